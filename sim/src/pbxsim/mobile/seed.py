"""Demo data of the mobile-line area: each demo tenant's licence pool and settings, and a few
desk-phone calls so a CDR report shows both kinds of records.

Idempotent like the rest of the seed: an organisation already configured keeps its settings and
its devices, and desk calls are added only to a tenant that has no call records yet.
"""

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pbxsim.mobile.models import CallRecord, MobileOrg
from pbxsim.mobile.platform import MobileOrgIn, add_desk_calls, put_org
from pbxsim.pbx.models import Tenant

# acme: emails go to users and online lines make a call a minute; globex suppresses emails (the
# operator gets the code); initech has a single licence (the second provisioning is refused).
DEMO_ORGS = {
    "acme": MobileOrgIn(licences_total=5, auto_calls_every_seconds=60),
    "globex": MobileOrgIn(licences_total=3, suppress_emails=True, auto_calls_every_seconds=60),
    "initech": MobileOrgIn(licences_total=1),
}


def seed_mobile(session: Session, now: datetime) -> None:
    for tenant_id, spec in DEMO_ORGS.items():
        tenant = session.get(Tenant, tenant_id)
        if tenant is None:
            continue
        if session.get(MobileOrg, tenant_id) is None:
            put_org(session, tenant_id, spec)
        has_calls = session.scalar(
            select(func.count()).select_from(CallRecord).where(CallRecord.tenant_id == tenant_id)
        )
        if not has_calls:
            add_desk_calls(session, tenant, now, count=3)
