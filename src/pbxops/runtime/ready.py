"""Wait until the whole ``make up`` stack answers, then say where to look and what to try.

Runs as the last Procfile entry so the banner appears after the start-up noise; then it idles
(honcho stops the whole stack when any entry exits).
"""

import signal
import socket
import time

import httpx

from pbxops.runtime.settings import settings_or_exit, without_password


def _port_open(address: str) -> bool:
    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=1):
            return True
    except OSError:
        return False


def main() -> None:
    settings = settings_or_exit()
    checks = {
        "Temporal": lambda: _port_open(settings.temporal_address),
        "simulator": lambda: httpx.get(f"{settings.platform_url}/healthz", timeout=1).is_success,
        "worker": lambda: httpx.get(f"{settings.callback_base_url}/healthz", timeout=1).is_success,
    }
    deadline = time.monotonic() + 120
    waiting = dict(checks)
    while waiting and time.monotonic() < deadline:
        for name, check in list(waiting.items()):
            try:
                if check():
                    del waiting[name]
            except httpx.HTTPError:
                pass
        time.sleep(0.5)
    if waiting:
        print(f"still waiting for: {', '.join(waiting)} — see the lines above", flush=True)
    else:
        print(
            "\n"
            "  pbxops is up.\n"
            f"    Temporal UI   {settings.ui_url}\n"
            f"    mailbox       {without_password(settings.platform_url)}/inbox\n"
            f"    helpdesk      {without_password(settings.platform_url)}/helpdesk\n"
            "  In another terminal (a development stack: dev mode for the CLI too), try:\n"
            "    export PBXOPS_DEV_MODE=1\n"
            "    .venv/bin/pbxops deactivate --tenant acme --wait\n",
            flush=True,
        )
    signal.sigwait({signal.SIGINT, signal.SIGTERM})


if __name__ == "__main__":
    main()
