"""One-time codes (deletion confirmation, and later eSIM activation) that history never sees.

A code is drawn with ``secrets``. The workflow keeps only its HMAC (the key lives in the worker's
settings), so nobody reading history, the UI or the logs can learn it. The code must still reach the
email step, and a retried email step must resend *the same* code (a second, different code would
confuse the Admins and break the Message-ID de-duplication). So the issuing activity also returns
the code sealed with AES-GCM under a key derived from the same secret, bound to the workflow run:
ciphertext in history, opened only inside the email activity, never stored in workflow state.
"""

import base64
import hashlib
import hmac
import os
import secrets

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from temporalio import activity

from activities.idempotency import workflow_of_activity
from contracts.deletion import CodeCheck, DeletionActivities, IssueCode, IssuedCode


class CodeVault:
    def __init__(self, secret: bytes) -> None:
        if len(secret) < 16:
            raise ValueError("the code secret must be at least 16 bytes")
        self._mac_key = hashlib.sha256(b"pbxops/code-mac/" + secret).digest()
        self._seal = AESGCM(hashlib.sha256(b"pbxops/code-seal/" + secret).digest())

    @staticmethod
    def new_numeric_code(digits: int = 8) -> str:
        return "".join(secrets.choice("0123456789") for _ in range(digits))

    def digest(self, code: str, context: str) -> str:
        """HMAC of the code, bound to its context (the workflow run) so digests never transfer."""
        return hmac.new(self._mac_key, f"{context}\n{code}".encode(), hashlib.sha256).hexdigest()

    def matches(self, code: str, context: str, expected_digest: str) -> bool:
        return hmac.compare_digest(self.digest(code, context), expected_digest)

    def seal(self, code: str, context: str) -> str:
        nonce = os.urandom(12)
        sealed = self._seal.encrypt(nonce, code.encode(), context.encode())
        return base64.urlsafe_b64encode(nonce + sealed).decode()

    def open(self, sealed: str, context: str) -> str:
        raw = base64.urlsafe_b64decode(sealed.encode())
        return self._seal.decrypt(raw[:12], raw[12:], context.encode()).decode()


def run_context() -> str:
    """Codes are bound to the workflow run that issued them: a digest never transfers."""
    _, workflow_id, run_id = workflow_of_activity()
    return f"{workflow_id}/{run_id}"


class CodeActivities:
    def __init__(self, vault: CodeVault) -> None:
        self._vault = vault

    @activity.defn(name=DeletionActivities.ISSUE_CODE)
    async def issue(self, request: IssueCode) -> IssuedCode:
        """A fresh code; a retry of this step makes another one, harmless as none was sent yet."""
        code = self._vault.new_numeric_code(request.digits)
        context = run_context()
        return IssuedCode(
            digest=self._vault.digest(code, context), sealed=self._vault.seal(code, context)
        )

    @activity.defn(name=DeletionActivities.CHECK_CODE)
    async def check(self, check: CodeCheck) -> bool:
        """Constant-time comparison of HMACs (run as a local activity from the Update)."""
        return self._vault.matches(check.code, run_context(), check.digest)
