"""Seeding the demo world (see API.md, "Seed"): each simulated system's seed, in one transaction.

The PBX platform's tenants come first: the number systems, the reseller portal and the mobile
platform attach their demo data to them. Every seed is an idempotent upsert, so ``serve --seed``
on a restart never rewinds a demo in progress.
"""

from pbxsim.clock import utcnow
from pbxsim.db import Database
from pbxsim.mobile.seed import seed_mobile
from pbxsim.numbers.seed import seed_numbers
from pbxsim.pbx.seed import seed_pbx
from pbxsim.provisioning.seed import seed_provisioning


def seed(db: Database) -> list[str]:
    """Upsert the demo world; returns the demo tenants' ids."""
    now = utcnow()
    with db.transaction() as session:
        tenant_ids = seed_pbx(session, now)
        seed_numbers(session)
        seed_provisioning(session, now)
        seed_mobile(session, now)
    return tenant_ids
