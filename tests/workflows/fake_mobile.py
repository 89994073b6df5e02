"""An in-memory mobile-line platform (licence pool, devices, codes, phones) for workflow tests.

It keeps the platform's rules (one live code, accepted once; pending-only new codes; lost/stolen
revokes the phone's line; deletion returns the licence) so the workflow is tested against them,
and registers under the real activity names. Phone actions return the ``DeviceEvent`` the real
platform's callback would deliver; the test sends it as the Signal the worker's receiver sends.
"""

import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from temporalio import activity
from temporalio.exceptions import ApplicationError

from pbxops.activities.codes import CodeVault
from pbxops.contracts.mobile import (
    CodeIssued,
    CodeReason,
    CodeState,
    Delivery,
    DeviceDeleted,
    DeviceEvent,
    DeviceRef,
    DeviceSnapshot,
    DeviceStatus,
    ExpireCode,
    IssueCode,
    MobileActivityNames,
    PhoneEventKind,
    ProvisionLine,
)

VAULT = CodeVault(b"fake-mobile-test-secret")
SMDP = "smdp.test.example"


class Refused(Exception):
    """The platform refused a phone's request (the sentence the simulator answers with)."""


@dataclass
class FakeCode:
    code_id: str
    matching_id: str
    device_id: str
    state: CodeState = CodeState.CURRENT


@dataclass
class FakeDevice:
    device_id: str
    tenant_id: str
    user_id: str
    number: str
    status: DeviceStatus = DeviceStatus.PENDING_ACTIVATION
    event_seq: int = 0
    phone_code: str | None = None
    """The code whose profile a phone holds (None: no phone holds the line)."""


@dataclass
class Mail:
    to: str
    subject: str
    text: str


@dataclass
class FakeMobilePlatform:
    tenant_id: str = "acme"
    users: dict[str, str] = field(default_factory=lambda: {"u1": "anna@acme.example"})
    licences_total: int = 2
    suppress_emails: bool = False
    devices: dict[str, FakeDevice] = field(default_factory=dict)
    codes: list[FakeCode] = field(default_factory=list)
    mails: list[Mail] = field(default_factory=list)
    expire_calls: int = 0
    device_reads: int = 0
    _answers: dict[str, object] = field(default_factory=dict)

    # --- what the tests look at ----------------------------------------------------------------

    def available(self) -> int:
        live = sum(1 for d in self.devices.values() if d.status != DeviceStatus.DELETED)
        return self.licences_total - live

    def current_code(self, device_id: str) -> FakeCode | None:
        return next(
            (c for c in self.codes if c.device_id == device_id and c.state == CodeState.CURRENT),
            None,
        )

    def lpa(self, code: FakeCode) -> str:
        return f"LPA:1${SMDP}${code.matching_id}"

    def secrets_issued(self) -> list[str]:
        return [c.matching_id for c in self.codes]

    # --- the phone -------------------------------------------------------------------------------

    def _event(self, device: FakeDevice, kind: PhoneEventKind, code_id: str | None = None):
        device.event_seq += 1
        return DeviceEvent(
            device_id=device.device_id,
            seq=device.event_seq,
            kind=kind,
            status=device.status,
            at=datetime.now(UTC),
            code_id=code_id,
        )

    def forged_event(self, device_id: str, seq: int) -> DeviceEvent:
        """What an attacker would send: "activated, online", which the platform never recorded
        (its device and codes stay as they are)."""
        device = self.devices[device_id]
        code = self.current_code(device_id)
        return DeviceEvent(
            device_id=device.device_id,
            seq=seq,
            kind=PhoneEventKind.ACTIVATED,
            status=DeviceStatus.ONLINE,
            at=datetime.now(UTC),
            code_id=code.code_id if code else None,
        )

    def activate(self, lpa: str) -> DeviceEvent:
        matching_id = lpa.rsplit("$", 1)[-1]
        code = next((c for c in self.codes if c.matching_id == matching_id), None)
        if code is None:
            raise Refused("unknown activation code")
        if code.state != CodeState.CURRENT:
            raise Refused(f"activation code {code.state.value}")
        device = self.devices[code.device_id]
        code.state = CodeState.USED
        device.status = DeviceStatus.ONLINE
        device.phone_code = code.code_id
        return self._event(device, PhoneEventKind.ACTIVATED, code.code_id)

    def _holding(self, device_id: str) -> FakeDevice:
        device = self.devices[device_id]
        if device.phone_code is None:
            raise Refused(f"no phone holds the line of mobile device '{device_id}'")
        return device

    def remove(self, device_id: str) -> DeviceEvent:
        device = self._holding(device_id)
        device.phone_code = None
        device.status = DeviceStatus.PENDING_ACTIVATION
        return self._event(device, PhoneEventKind.REMOVED)

    def deactivate(self, device_id: str) -> DeviceEvent:
        device = self._holding(device_id)
        if device.status != DeviceStatus.ONLINE:
            raise Refused(f"mobile device '{device_id}' is {device.status.value}")
        device.status = DeviceStatus.OFFLINE
        return self._event(device, PhoneEventKind.DEACTIVATED)

    def reactivate(self, device_id: str) -> DeviceEvent:
        device = self._holding(device_id)
        if device.status != DeviceStatus.OFFLINE:
            raise Refused(f"mobile device '{device_id}' is {device.status.value}")
        device.status = DeviceStatus.ONLINE
        return self._event(device, PhoneEventKind.REACTIVATED)

    # --- the platform's API, as activities -----------------------------------------------------

    def snapshot(self, device: FakeDevice) -> DeviceSnapshot:
        latest = next((c for c in reversed(self.codes) if c.device_id == device.device_id), None)
        return DeviceSnapshot(
            device_id=device.device_id,
            tenant_id=device.tenant_id,
            user_id=device.user_id,
            number=device.number,
            status=device.status,
            event_seq=device.event_seq,
            current_code_id=latest.code_id if latest else None,
            current_code_state=latest.state if latest else None,
            licences_available=self.available(),
        )

    @staticmethod
    def _refuse(message: str, status: int = 409) -> ApplicationError:
        return ApplicationError(message, type=f"PlatformRejected{status}", non_retryable=True)

    def _once(self, suffix: str = "") -> tuple[str, object | None]:
        """Idempotency, as the simulator's middleware: one answer per workflow step."""
        info = activity.info()
        key = f"{info.workflow_id}/{info.workflow_run_id}/{info.activity_id}{suffix}"
        return key, self._answers.get(key)

    def _issue(self, req: IssueCode) -> CodeIssued:
        key, answer = self._once("/code")
        if isinstance(answer, CodeIssued):
            return answer
        device = self.devices[req.device_id]
        if device.status == DeviceStatus.DELETED:
            raise self._refuse(f"mobile device '{device.device_id}' is deleted")
        if req.reason is CodeReason.LOST_STOLEN:
            if device.phone_code is not None or device.status != DeviceStatus.PENDING_ACTIVATION:
                device.phone_code = None
                device.status = DeviceStatus.PENDING_ACTIVATION
                device.event_seq += 1
        elif device.status != DeviceStatus.PENDING_ACTIVATION:
            raise self._refuse(
                f"mobile device '{device.device_id}' is {device.status.value}; a new activation "
                "code can be generated only while it is pending activation"
            )
        for old in self.codes:
            if old.device_id == device.device_id and old.state == CodeState.CURRENT:
                old.state = CodeState.SUPERSEDED
        code = FakeCode(f"ac-{len(self.codes) + 1}", secrets.token_hex(8).upper(), device.device_id)
        self.codes.append(code)
        delivery = Delivery.OPERATOR if self.suppress_emails else Delivery.EMAIL
        if delivery is Delivery.EMAIL:
            self.mails.append(
                Mail(self.users[device.user_id], "Activate your line", f"{self.lpa(code)}")
            )
        issued = CodeIssued(
            code_id=code.code_id,
            digest=VAULT.digest(code.matching_id, code.code_id),
            smdp_address=SMDP,
            platform_expires_at=datetime.now(UTC) + req.validity,
            delivery=delivery,
            delivery_note="the organisation suppresses emails" if self.suppress_emails else "",
            device=self.snapshot(device),
        )
        self._answers[key] = issued
        return issued

    def activities(self) -> list:
        platform = self

        @activity.defn(name=MobileActivityNames.PROVISION)
        async def provision(line: ProvisionLine) -> CodeIssued:
            key, answer = platform._once("/device")
            if answer is None:
                if line.user_id not in platform.users:
                    raise platform._refuse(
                        f"user '{line.user_id}' not found in tenant '{line.tenant_id}'", 404
                    )
                if platform.available() <= 0:
                    used = platform.licences_total - platform.available()
                    raise platform._refuse(
                        f"no mobile-line licence left in the pool of tenant '{line.tenant_id}' "
                        f"({used} of {platform.licences_total} in use)"
                    )
                platform.devices[line.device_id] = FakeDevice(
                    line.device_id,
                    line.tenant_id,
                    line.user_id,
                    number=f"+39333{len(platform.devices):07d}",
                )
                platform._answers[key] = True
            return platform._issue(
                IssueCode(
                    device_id=line.device_id, reason=CodeReason.PROVISION, validity=line.validity
                )
            )

        @activity.defn(name=MobileActivityNames.ISSUE_CODE)
        async def issue_code(req: IssueCode) -> CodeIssued:
            return platform._issue(req)

        @activity.defn(name=MobileActivityNames.EXPIRE_CODE)
        async def expire_code(req: ExpireCode) -> DeviceSnapshot:
            platform.expire_calls += 1
            code = next(c for c in platform.codes if c.code_id == req.code_id)
            if code.state == CodeState.CURRENT:
                code.state = CodeState.EXPIRED
            return platform.snapshot(platform.devices[req.device_id])

        @activity.defn(name=MobileActivityNames.GET_DEVICE)
        async def get_device(ref: DeviceRef) -> DeviceSnapshot:
            platform.device_reads += 1
            return platform.snapshot(platform.devices[ref.device_id])

        @activity.defn(name=MobileActivityNames.DELETE_DEVICE)
        async def delete_device(ref: DeviceRef) -> DeviceDeleted:
            device = platform.devices[ref.device_id]
            if device.status != DeviceStatus.DELETED:
                device.status = DeviceStatus.DELETED
                device.phone_code = None
                device.event_seq += 1
                for code in platform.codes:
                    if code.device_id == device.device_id and code.state == CodeState.CURRENT:
                        code.state = CodeState.REVOKED
                if not platform.suppress_emails:
                    platform.mails.append(
                        Mail(
                            platform.users[device.user_id],
                            f"Your business mobile line {device.number} was deleted",
                            "Please remove the deactivated line from your phone by hand.",
                        )
                    )
            return DeviceDeleted(
                device=platform.snapshot(device),
                licences_available=platform.available(),
                user_notified=not platform.suppress_emails,
                note="the organisation suppresses emails" if platform.suppress_emails else "",
            )

        return [provision, issue_code, expire_code, get_device, delete_device]


def days(n: float) -> timedelta:
    return timedelta(days=n)
