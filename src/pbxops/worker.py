"""The pbxops worker: every workflow and activity on one task queue.

One process also serves the platform-callback receiver (webhook → Signal) and Prometheus metrics
(the SDK's own, on ``PBXOPS_METRICS_BIND``). SIGINT/SIGTERM stop it gracefully: running activities
get ``graceful_shutdown_timeout`` to finish, and anything unfinished is retried by another worker.

    pbxops worker            (or: python -m pbxops.worker)
"""

import asyncio
import contextlib
import os
import secrets
import signal
import sys
import time
from datetime import timedelta
from pathlib import Path

import httpx
import structlog
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig
from temporalio.worker import Worker

from pbxops.activities.calendar import business_deadline
from pbxops.activities.codes import CodeActivities, CodeVault
from pbxops.activities.helpdesk import HelpdeskActivities
from pbxops.activities.locales import Locales
from pbxops.activities.mail import MailActivities, SmtpSender
from pbxops.activities.mobile import MobileActivities
from pbxops.activities.number_removal import NumberRemovalActivities
from pbxops.activities.pbx import PbxActivities
from pbxops.activities.provisioning import ProvisioningActivities, TrialTimers
from pbxops.activities.support import SupportActivities
from pbxops.runtime.callback_auth import CallbackSigner
from pbxops.runtime.callback_receiver import (
    EmbeddedServer,
    ReceiverFailed,
    create_receiver,
    embedded_server,
)
from pbxops.runtime.logging import configure_logging
from pbxops.runtime.number_systems import OperatorSystems
from pbxops.runtime.sandbox import workflow_runner
from pbxops.runtime.settings import Settings, settings_or_exit, without_password
from pbxops.runtime.temporal import TemporalUnreachable, connect
from pbxops.workflows.registry import ALL_WORKFLOWS

log = structlog.get_logger("pbxops.worker")


def platform_client(settings: Settings) -> httpx.AsyncClient:
    token = settings.platform_token.get_secret_value()
    return httpx.AsyncClient(
        base_url=settings.platform_url,
        headers={"Authorization": f"Bearer {token}"},
        timeout=settings.http_timeout_seconds,
        limits=httpx.Limits(
            max_connections=settings.http_max_connections,
            max_keepalive_connections=settings.http_max_connections,
        ),
    )


def provisioning_activities(http: httpx.AsyncClient, mail: MailActivities) -> list:
    """Customer provisioning, support contacts and problem reports (the reseller portal)."""
    customers = ProvisioningActivities(http, mail)
    support = SupportActivities(http)
    return [
        customers.create_account,
        customers.get_account,
        customers.get_reseller,
        customers.delete_account,
        customers.activate_account,
        customers.update_account,
        customers.expire_trial,
        customers.invite_admin,
        customers.withdraw_invitation,
        customers.configure_pbx,
        customers.enable_pbx,
        customers.connect_pbx,
        customers.sync_pbx_users,
        customers.start_monitoring,
        customers.remove_pbx,
        customers.assign_roles,
        TrialTimers().trial_timer,
        support.change_contacts,
        support.create_report,
    ]


def code_secret(settings: Settings) -> bytes:
    """PBXOPS_CODE_SECRET, which never has a default: a published default would let anyone who
    reads history recover a code (docs/security.md). In dev mode, when unset, the worker makes a
    random one in the dev vault (``pbxops_code_secret`` in PBXOPS_SECRETS_DIR, else
    ``.data/secrets``), where the next start (and every worker of the same stack) reads it."""
    if settings.code_secret is not None:
        return settings.code_secret.get_secret_value().encode()
    if not settings.dev_mode:
        raise SystemExit(
            "error: bad setting PBXOPS_CODE_SECRET: not set; the worker needs a long random "
            "value (e.g. `openssl rand -hex 32`), the same on every worker"
        )
    vault = Path(os.environ.get("PBXOPS_SECRETS_DIR") or ".data/secrets").expanduser()
    vault.mkdir(parents=True, exist_ok=True)
    path = vault / "pbxops_code_secret"
    try:  # O_EXCL: two workers starting together agree on the one that was written first
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    else:
        with os.fdopen(fd, "w") as file:
            file.write(secrets.token_hex(32))
    for _ in range(50):  # the writer of a fresh file may not have written it yet
        secret = path.read_text().strip()
        if secret:
            return secret.encode()
        time.sleep(0.02)
    raise SystemExit(f"error: the dev vault's code secret {path} is empty; delete it")


def metrics_runtime(settings: Settings) -> Runtime:
    """The SDK runtime with Prometheus metrics on PBXOPS_METRICS_BIND; a port that is taken (or an
    address that does not parse) is one line naming the setting, not a traceback."""
    try:
        return Runtime(
            telemetry=TelemetryConfig(metrics=PrometheusConfig(bind_address=settings.metrics_bind))
        )
    except ValueError as err:  # the SDK says why: "Address already in use", "Invalid …"
        reason = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise SystemExit(
            f"error: bad setting PBXOPS_METRICS_BIND: cannot serve metrics on "
            f"{settings.metrics_bind} ({reason}); is another worker running? set another "
            "host:port"
        ) from None


def build_activities(settings: Settings, http: httpx.AsyncClient) -> list:
    """Every activity the task queue serves, each class with its client injected."""
    signer = CallbackSigner(settings.callback_secret.get_secret_value().encode())
    pbx = PbxActivities(http, settings.callback_base_url, signer)
    helpdesk = HelpdeskActivities(http, settings.ui_url)
    sender = SmtpSender(
        settings.smtp_host,
        settings.smtp_port,
        username=settings.smtp_username,
        password=settings.smtp_password.get_secret_value() if settings.smtp_password else None,
        start_tls=settings.smtp_starttls,
    )
    vault = CodeVault(code_secret(settings))
    codes = CodeActivities(vault)
    locales = Locales(http, settings.email_languages, settings.staff_email_domains)
    mail = MailActivities(sender, settings.mail_from, vault, locales)
    mobile = MobileActivities(
        http, sender, settings.mail_from, vault, settings.callback_base_url, signer, locales=locales
    )
    numbers = NumberRemovalActivities(
        http, OperatorSystems(settings, timeout=settings.http_timeout_seconds)
    )
    return [
        pbx.request_transition,
        pbx.get_service,
        pbx.get_admins,
        pbx.purge,
        pbx.purge_all,
        pbx.live_mobile_lines,
        pbx.mobile_lines_ended,
        codes.issue,
        codes.check,
        helpdesk.open_ticket,
        helpdesk.comment,
        helpdesk.resolve,
        mail.send,
        mail.send_template,
        mail.send_deletion_code,
        business_deadline,
        mobile.provision,
        mobile.issue_code,
        mobile.expire_code,
        mobile.get_device,
        mobile.delete_device,
        numbers.check_requester,
        numbers.lookup,
        numbers.billing_link,
        numbers.delete_device,
        numbers.verify_removed,
        *provisioning_activities(http, mail),
    ]


async def run_worker(settings: Settings, stop: asyncio.Event) -> None:
    runtime = metrics_runtime(settings)
    client = await connect(settings, runtime=runtime, wait_seconds=60)
    receiver = embedded_server(
        create_receiver(
            client,
            settings.platform_token.get_secret_value(),
            CallbackSigner(settings.callback_secret.get_secret_value().encode()),
        ),
        settings.callback_bind_host,
        settings.callback_port,
    )
    async with platform_client(settings) as http:
        worker = Worker(
            client,
            task_queue=settings.task_queue,
            workflows=ALL_WORKFLOWS,
            activities=build_activities(settings, http),
            workflow_runner=workflow_runner(),
            max_cached_workflows=settings.max_cached_workflows,
            graceful_shutdown_timeout=timedelta(seconds=10),
        )
        receiver_task = await start_receiver(receiver, settings)
        # A worker without its receiver would still run every procedure, but each one would only
        # learn of its platform job at the first safety poll (the SLA deadline): stop instead.
        receiver_task.add_done_callback(lambda _: stop.set())
        log.info(
            "worker started",
            temporal=without_password(settings.temporal_address),
            namespace=settings.temporal_namespace,
            task_queue=settings.task_queue,
            callbacks=without_password(settings.callback_base_url),
            metrics=f"http://{settings.metrics_bind}/metrics",
        )
        async with worker:
            await stop.wait()
            log.info("stopping: finishing running activities")
        if receiver_task.done() and not receiver.should_exit:
            receiver_task.result()  # its own ReceiverFailed, with uvicorn's reason, if it has one
            raise ReceiverFailed("the platform-callback receiver stopped unexpectedly")
        receiver.should_exit = True
        await receiver_task
    log.info("worker stopped")


async def start_receiver(receiver: EmbeddedServer, settings: Settings) -> asyncio.Task[None]:
    """Serve the callback receiver; fail at once, with the reason, if it cannot listen."""
    task = asyncio.create_task(receiver.serve(), name="callback-receiver")
    while not receiver.started:
        if task.done():
            with contextlib.suppress(ReceiverFailed):
                task.result()  # uvicorn has logged why (e.g. the port is taken)
            raise ReceiverFailed(
                "cannot listen for platform callbacks on "
                f"{settings.callback_bind_host}:{settings.callback_port} "
                "(is another worker running? set PBXOPS_CALLBACK_PORT)"
            )
        await asyncio.sleep(0.02)
    return task


def main() -> None:
    # The sandbox imports each workflow's module anew for every workflow instance; without .pyc
    # files (PYTHONDONTWRITEBYTECODE is common on dev machines) that means compiling the source
    # every time. The worker always wants the bytecode cache.
    sys.dont_write_bytecode = False
    settings = settings_or_exit()
    code_secret(settings)  # before anything starts: refused, or made in the dev vault
    configure_logging(settings.log_format, settings.log_level)

    async def _main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await run_worker(settings, stop)

    try:
        asyncio.run(_main())
    except (TemporalUnreachable, ReceiverFailed) as err:
        log.error(str(err))
        raise SystemExit(1) from None


if __name__ == "__main__":
    main()
