"""Generate ``mappings/data/communes_pre2025_to_new.csv`` from the ``vietnamadminunits`` data.

The old→new commune table of the 1 July 2025 arrangement (Decision 19/2025/QĐ-TTg on the codes
of administrative units, and the National Assembly Standing Committee resolutions of 2025 on the
arrangement of commune-level units of each province) as tabulated by ``vietnamadminunits`` 1.0.4
(MIT): ``data/dataset.db`` (tables ``admin_units_legacy``, ``admin_units``) and
``data/converter_2025.json`` (``DICT_PROVINCE_WARD_NO_DIVIDED``: new ward → old wards merged
into it; ``DICT_PROVINCE_WARD_DIVIDED``: a split old ward → its new wards, one of them the
library's default).

Usage (the library is an optional extra; it is never imported by the gateway)::

    pip install -c constraints.txt -e '.[tables]'
    python -m mappings.tools.communes_from_vietnamadminunits          # rewrite the CSV
    python -m mappings.tools.communes_from_vietnamadminunits --check  # exit 1 if it differs

The package's files are only read (found with ``importlib.util.find_spec``; its modules, which
pull in shapely/geopy, are not imported). One row per (old commune, new commune) pair, every
old commune included: old and new codes overlap, so whether a code is old or new is decided by
the dossier's date, not by this file. The new commune is the one of the list in force that the
project uses (``vietnam-provinces``, :func:`mappings.admin_units.commune`), matched by name
within the new province: the library keys its table by names, and for some wards its code is
not the one in force (listed on stderr). A ward that matches nothing stops the generator.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import sqlite3
import sys
import unicodedata
from collections import defaultdict
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from importlib.util import find_spec
from pathlib import Path
from typing import Any

from mappings import admin_units
from mappings.tables import pre2025_province

LIBRARY = "vietnamadminunits"
LIBRARY_VERSION = "1.0.4"
OUTPUT = Path(__file__).resolve().parent.parent / "data" / "communes_pre2025_to_new.csv"
COLUMNS = (
    "old_code",
    "old_name",
    "old_district",
    "old_province_code",
    "new_code",
    "new_name",
    "new_province_code",
    "is_default",
)

_LEGACY_SQL = (
    "SELECT provinceKey, districtKey, wardKey, provinceCode, province, district, wardCode, ward FROM admin_units_legacy"
)
_NEW_SQL = "SELECT provinceKey, wardKey, provinceCode, wardCode, ward FROM admin_units"

# Tone marks (combining): their placement varies (Hoà/Hòa, Thuỷ/Thủy), so a name key moves
# them to the end of each syllable.
_TONES = frozenset("\u0300\u0301\u0303\u0309\u0323")
_PUNCT = str.maketrans({"\u2013": "-", "\u2014": "-", "\u2019": "'", "\u2018": "'", "\u02bc": "'"})


class GenerationError(RuntimeError):
    """The library's data cannot be turned into the table (missing, or inconsistent)."""


@dataclass(frozen=True)
class _Old:
    key: str
    code: str
    name: str
    district: str
    province_code: str
    province: str


@dataclass(frozen=True)
class _New:
    province_key: str
    key: str
    code: str
    name: str
    province_code: str


@dataclass
class Report:
    """What the generator found, printed on stderr."""

    old_communes: int = 0
    rows: int = 0
    split: int = 0
    candidates_by_split_size: dict[int, int] | None = None
    without_commune: tuple[str, ...] = ()  # old districts with no commune (island districts)
    code_corrections: tuple[str, ...] = ()  # library code != code in force, matched by name

    def lines(self) -> list[str]:
        sizes = ", ".join(f"{k}: {v}" for k, v in sorted((self.candidates_by_split_size or {}).items()))
        out = [
            f"old communes: {self.old_communes}, rows: {self.rows}, split: {self.split} ({sizes})",
            f"old districts without communes (not rows): {len(self.without_commune)}: "
            + "; ".join(self.without_commune),
            f"new wards whose library code is not the code in force (matched by name): {len(self.code_corrections)}",
        ]
        out += [f"  {line}" for line in self.code_corrections]
        return out


def name_key(name: str) -> str:
    """A spelling-insensitive key for a unit name: case, tone-mark placement, dashes, apostrophes."""
    words = []
    for word in unicodedata.normalize("NFC", name).translate(_PUNCT).lower().split():
        decomposed = unicodedata.normalize("NFD", word)
        tones = "".join(ch for ch in decomposed if ch in _TONES)
        base = "".join(ch for ch in decomposed if ch not in _TONES)
        words.append(unicodedata.normalize("NFC", base) + tones)
    return " ".join(words).replace(" - ", "-")


def library_data_dir() -> Path:
    """The ``data/`` folder of the installed library (its modules are not imported)."""
    spec = find_spec(LIBRARY)
    if spec is None or not spec.submodule_search_locations:
        raise GenerationError(f"{LIBRARY} is not installed: pip install -c constraints.txt -e '.[tables]'")
    try:
        installed = version(LIBRARY)
    except PackageNotFoundError:  # pragma: no cover - a bare source tree on the path
        installed = "unknown"
    if installed != LIBRARY_VERSION:
        raise GenerationError(f"{LIBRARY} {installed} is installed; this table is of {LIBRARY_VERSION}")
    return Path(next(iter(spec.submodule_search_locations))) / "data"


def _load(data_dir: Path) -> tuple[list[_Old], list[str], dict[tuple[str, str], _New], dict[str, Any]]:
    with sqlite3.connect(f"file:{data_dir / 'dataset.db'}?mode=ro", uri=True) as db:
        legacy = db.execute(_LEGACY_SQL).fetchall()
        new_rows = db.execute(_NEW_SQL).fetchall()
    olds: list[_Old] = []
    without: list[str] = []
    for pkey, dkey, wkey, pcode, pname, dname, wcode, wname in legacy:
        if wcode is None:
            without.append(f"{dname}, {pname}")
            continue
        olds.append(_Old(f"{pkey}_{dkey}_{wkey}", wcode, wname, dname, pcode, pname))
    news = {(p, k): _New(p, k, code, name, pc) for p, k, pc, code, name in new_rows}
    converter = json.loads((data_dir / "converter_2025.json").read_text(encoding="utf-8"))
    return olds, without, news, converter


def _in_force(new: _New, by_name: dict[tuple[str, str], list[admin_units.Commune]]) -> admin_units.Commune:
    found = by_name.get((new.province_code, name_key(new.name)), [])
    if len(found) != 1:
        raise GenerationError(
            f"new ward {new.name} ({new.code}, province {new.province_code}): "
            f"{len(found)} communes of that name in the list in force"
        )
    return found[0]


def _check_code(code: str, width: int, what: str) -> str:
    if len(code) != width or not code.isascii() or not code.isdigit():
        raise GenerationError(f"{what}: {code!r} is not a {width}-digit code")
    return code


def generate(data_dir: Path | None = None) -> tuple[str, Report]:
    """The CSV text (header comment included) and the report; raises GenerationError."""
    olds, without, news, converter = _load(data_dir or library_data_dir())
    by_name: dict[tuple[str, str], list[admin_units.Commune]] = defaultdict(list)
    for c in admin_units._communes().values():
        by_name[(c.province_code, name_key(c.name))].append(c)

    # old key -> [(new ward, is_default or None when the old ward was not split)]
    targets: dict[str, list[tuple[_New, bool | None]]] = defaultdict(list)
    for pkey, wards in converter["DICT_PROVINCE_WARD_NO_DIVIDED"].items():
        for wkey, old_keys in wards.items():
            for old_key in old_keys:
                targets[old_key].append((news[(pkey, wkey)], None))
    for pkey, divided in converter["DICT_PROVINCE_WARD_DIVIDED"].items():
        for old_key, candidates in divided.items():
            if old_key in targets:
                raise GenerationError(f"{old_key}: both split and not split")
            for cand in candidates:
                targets[old_key].append((news[(pkey, cand["newWardKey"])], bool(cand["isDefaultNewWard"])))

    corrections: set[str] = set()
    rows: list[tuple[str, ...]] = []
    seen_codes: set[str] = set()
    sizes: defaultdict[int, int] = defaultdict(int)
    for old in olds:
        _check_code(old.code, 5, old.key)
        _check_code(old.province_code, 2, old.key)
        if old.code in seen_codes:
            raise GenerationError(f"old code {old.code} twice")
        seen_codes.add(old.code)
        pairs = targets.get(old.key)
        if not pairs:
            where = f"{old.name}, {old.district}, {old.province} ({old.code})"
            raise GenerationError(f"old commune {where}: no new commune")
        province = pre2025_province(old.province_code)
        if province is None:
            raise GenerationError(f"{old.key}: unknown pre-2025 province {old.province_code}")
        if len(pairs) > 1:
            sizes[len(pairs)] += 1
            if sum(1 for _, default in pairs if default) != 1 or any(d is None for _, d in pairs):
                raise GenerationError(f"{old.key}: split without exactly one default")
        for new, default in pairs:
            commune = _in_force(new, by_name)
            if commune.code != new.code:
                corrections.add(f"{new.name} ({new.province_code}): library {new.code} -> in force {commune.code}")
            if commune.province_code != province.new_code:
                raise GenerationError(f"{old.key}: new commune {commune.code} outside province {province.new_code}")
            is_default = default if default is not None else True
            rows.append(
                (
                    old.code,
                    old.name,
                    old.district,
                    old.province_code,
                    commune.code,
                    commune.name,
                    commune.province_code,
                    "true" if is_default else "false",
                )
            )
    rows.sort(key=lambda r: (r[0], r[4]))
    report = Report(
        old_communes=len(olds),
        rows=len(rows),
        split=sum(sizes.values()),
        candidates_by_split_size=dict(sizes),
        without_commune=tuple(without),
        code_corrections=tuple(sorted(corrections)),
    )
    return _render(rows, report), report


def _render(rows: list[tuple[str, ...]], report: Report) -> str:
    header = [
        f"# Every pre-2025 commune ({report.old_communes:,}) -> the post-2025 commune(s) it became part of; one row",
        "# per (old, new) pair. Source: Decision 19/2025/QĐ-TTg (codes of administrative units) and the",
        "# National Assembly Standing Committee resolutions of 2025 on the arrangement of commune-level",
        f"# units, as tabulated by {LIBRARY} {LIBRARY_VERSION} (MIT; data/dataset.db, data/converter_2025.json).",
        "# Generated by mappings/tools/communes_from_vietnamadminunits.py"
        " (python -m mappings.tools.communes_from_vietnamadminunits); do not edit by hand.",
        "# Old and new codes overlap (16171 was Xã Nga Trường and is now Xã Ba Đình): a code is read against",
        "# this list or the one in force according to the dossier's date, never by its value alone.",
        f"# A split old commune ({report.split}) has one row per new commune; is_default marks the library's",
        "# default (the only row of an old commune that was not split is true). new_code/new_name are those",
        "# of the list in force (vietnam-provinces), matched by name within the province (the library's own",
        f"# code differs for {len(report.code_corrections)} new communes; the generator lists them).",
        f"# Not rows: {len(report.without_commune)} island districts that had no communes and became special zones.",
    ]
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(COLUMNS)
    writer.writerows(rows)
    return "\n".join(header) + "\n" + buf.getvalue()


def main(argv: list[str] | None = None) -> int:
    """Write (or with ``--check`` compare) the CSV; the report goes to stderr."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--check", action="store_true", help="compare with the file instead of writing it")
    parser.add_argument("--output", type=Path, default=OUTPUT)
    args = parser.parse_args(argv)
    try:
        text, report = generate()
    except GenerationError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for line in report.lines():
        print(line, file=sys.stderr)
    if args.check:
        same = args.output.read_text(encoding="utf-8") == text
        print(f"{args.output}: {'up to date' if same else 'DIFFERS'}", file=sys.stderr)
        return 0 if same else 1
    args.output.write_text(text, encoding="utf-8")
    print(f"wrote {args.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
