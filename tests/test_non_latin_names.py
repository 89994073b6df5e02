"""Issue 19.1: customer names in any script are accepted and keep distinct, readable ids.

Before: "Тест ООД" was refused ("a customer name needs letters or digits"), "Тест ООД 1" became
the key ``1`` and "Алфа ЕООД 1" was then refused as its duplicate. The simulator's account ids
(also the billing reference when none is given) come from the same kind of key: see
sim/tests/test_simulator_provisioning.py.
"""

import pytest
from pbxsim.provisioning.portal import name_key as platform_name_key

from pbxops.contracts.provisioning import CustomerDetails, name_key


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("Тест ООД", "test-ood"),
        ("Тест ООД 1", "test-ood-1"),
        ("Алфа ЕООД 1", "alfa-eood-1"),
        ("Ελληνική Εταιρεία", "elliniki-etaireia"),
        ("Øresund ApS", "oresund-aps"),
        ("Straße GmbH", "strasse-gmbh"),
    ],
)
def test_a_non_latin_name_gets_a_readable_key(name: str, key: str):
    assert name_key(name) == key == platform_name_key(name)
    assert CustomerDetails(name=name, product_type="essentials", country="BG").name == name


def test_names_that_differ_only_in_their_script_keep_distinct_keys():
    names = ["Тест ООД 1", "Алфа ЕООД 1", "Бета АД 1", "Гама ЕТ 1", "1"]
    assert len({name_key(n) for n in names}) == len(names)


@pytest.mark.parametrize(
    ("name", "key"),
    [  # the keys these ASCII (and accented Latin) names had before: unchanged
        ("ACME S.r.l.", "acme-srl"),
        ("acme srl", "acme-srl"),
        ("Initech  Ltd", "initech-ltd"),
        ("Café Müller & Co.", "cafe-muller-co"),
        ("Globex-42", "globex-42"),
    ],
)
def test_latin_names_keep_the_key_they_had(name: str, key: str):
    assert name_key(name) == key == platform_name_key(name)
