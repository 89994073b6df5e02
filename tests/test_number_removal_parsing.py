"""How `pbxops number remove` reads numbers: phonenumbers, E.164, files, duplicates, limits."""

import re
from pathlib import Path

import pytest

from pbxops.cli.errors import OperatorError
from pbxops.cli.number_removal import collect_numbers, parse_number


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("+39 02 8088 1001", "+390280881001"),
        ("02 8088 1001", "+390280881001"),  # national, read with --region IT
        ("+39 (333) 123-4567", "+393331234567"),
        ("0039 06 4567 2001", "+390645672001"),
    ],
)
def test_numbers_are_normalised_to_e164(raw, expected):
    assert parse_number(raw, "IT") == expected


def test_region_decides_numbers_without_a_country_code():
    assert parse_number("(212) 555-0143", "US") == "+12125550143"
    with pytest.raises(OperatorError, match="read as IT numbers"):
        parse_number("(212) 555-0143", "IT")


@pytest.mark.parametrize(
    "raw, message",
    [
        ("+39 12", "'+39 12' is not a valid phone number"),
        ("hello", "'hello' is not a phone number"),
        ("", "'' is not a phone number"),
    ],
)
def test_bad_numbers_are_named(raw, message):
    with pytest.raises(OperatorError, match=re.escape(message)):
        parse_number(raw, "IT")


def test_a_numbers_file_skips_comments_and_names_the_bad_line(tmp_path: Path):
    good = tmp_path / "good.txt"
    good.write_text("# ticket 4711\n+39 02 8088 1001\n\n02 8088 1002, 02 8088 1003 # ops\n")
    assert collect_numbers(["+390280881001"], good, "IT") == [
        "+390280881001",  # given twice, counted once
        "+390280881002",
        "+390280881003",
    ]
    bad = tmp_path / "bad.txt"
    bad.write_text("+39 02 8088 1001\n+39 02 12\n")
    with pytest.raises(OperatorError, match=r"^bad.txt line 2: '\+39 02 12' is not a valid"):
        collect_numbers([], bad, "IT")
    empty = tmp_path / "empty.txt"
    empty.write_text("# nothing\n")
    with pytest.raises(OperatorError, match="holds no phone number"):
        collect_numbers([], empty, "IT")


def test_a_request_needs_numbers_and_has_a_limit(tmp_path: Path):
    with pytest.raises(OperatorError, match="give at least one --number"):
        collect_numbers([], None, "IT")
    many = tmp_path / "many.txt"
    many.write_text("\n".join(f"+39028088{n:04d}" for n in range(51)))
    with pytest.raises(OperatorError, match="51 numbers in one request; at most 50"):
        collect_numbers([], many, "IT")
