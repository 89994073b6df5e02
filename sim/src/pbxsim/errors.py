"""Domain errors, each mapped to one status code and a ``{"detail": "<sentence>"}`` body."""

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse


class SimulatorError(Exception):
    status_code = 400

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class NotFoundError(SimulatorError):
    status_code = 404


class ConflictError(SimulatorError):
    """An illegal state transition; the sentence names the current state."""

    status_code = 409


def install_error_handlers(app: FastAPI) -> None:
    async def _handle(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, SimulatorError)
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code)

    app.add_exception_handler(SimulatorError, _handle)
