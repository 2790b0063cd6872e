"""Write the bundled sample of Upphandlingsmyndigheten's statistics database: one CSV export per
year (``sources/samples/uhm-db/uhm-db-<year>.csv``) in the shape the database exports the table
'Antal upphandlingar' by Upphandlings-ID — UTF-8 with BOM, ``;``-separated, the variables' Swedish
names as headers, flags in words (``Inte …`` for no, ``Uppgift saknas`` for no information).

Synthetic and deterministic (no randomness: every choice is a hash of buyer, year and number). The
buyers are ``sample_world``'s plus a municipal housing company (placed only through the curated
buyer table) and a row with a broken organisation number (quarantined on ingest). Rates follow
the 2021 national figures in spirit: the social flag is missing for most procurements, a few
per cent are socially sustainable, reserved procurement is rare.

Usage: python scripts/samples_uhm_db.py [--out DIR]
"""
from __future__ import annotations

import argparse
import hashlib
import sys
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from sample_world import BUYERS  # noqa: E402
from sources.orgnr import with_check_digit  # noqa: E402

OUT = Path(__file__).resolve().parents[1] / "sources" / "samples" / "uhm-db"
YEARS = (2024, 2025)
HEADER = ["År", "Namn för köpare", "Organisationsnummer för köpare", "Sektor för köpare", "Delsektor för köpare",
          "Juridisk form för köpare", "Upphandlingsslag", "Huvudsaklig CPV-kod", "Rättslig grund", "Direktivstyrd",
          "Förfarande", "Typ av avtal", "Samordnad upphandling", "Miljömässigt hållbar upphandling",
          "Socialt hållbar upphandling", "Innovationsupphandling", "Reserverad upphandling",
          "Reserverat genomförande", "Annonsdatabas", "Överprövad", "Upphandlings-ID", "Upphandlingens titel",
          "Publiceringsdatum", "Antal upphandlingar, Summa"]
# buyer class → (Sektor, Delsektor, Juridisk form, procurements a year)
CLASSES = {"municipality": ("Kommun", "Kommun", "Kommuner"),
           "region": ("Region", "Region", "Regioner"),
           "state_agency": ("Stat", "Statlig myndighet", "Statliga enheter"),
           "municipal_company": ("Kommun", "Kommunalt ägd organisation", "Övriga aktiebolag")}
VOLUME = {"0580": 64, "0581": 58, "05": 52, "0180": 90, "0680": 40, "0583": 18, "0586": 14, "0562": 13}
HOUSING = (with_check_digit("556100050"), "Linköpings Hyresbostäder AB (exempel)", "0580", "municipal_company")
SUBJECTS = [("Tjänster", "90911200 Städning", "Lokalvård"), ("Tjänster", "85311000 Socialt arbete med boende",
            "Boendestöd"), ("Varor", "15800000 Diverse livsmedel", "Livsmedel"),
            ("Byggentreprenader", "45210000 Byggnadsarbete", "Ombyggnad"),
            ("Tjänster", "79620000 Tillhandahållande av personal", "Bemanning"),
            ("Varor", "30190000 Diverse kontorsutrustning", "Kontorsmaterial")]
DATABASES = ["Mercell Annonsdatabas", "e-Avrop", "KommersAnnons.se"]


def pick(*key) -> int:
    return int(hashlib.sha256("/".join(map(str, key)).encode()).hexdigest()[:8], 16)


def flag(yes: bool, name: str) -> str:
    return name if yes else f"Inte {name[0].lower()}{name[1:]}"


def rows_for(year: int) -> list[list[str]]:
    rows = []
    buyers = [(b[0], b[1], b[2], b[5]) for b in BUYERS] + [HOUSING]
    for index, (number, name, kommun, cls) in enumerate(buyers):
        sector, subsector, legal = CLASSES[cls]
        n = VOLUME.get(kommun, 9) if cls != "municipal_company" else 11
        n += pick(number, year, "n") % 4 - 1
        for i in range(1, n + 1):
            h = pick(number, year, i)
            kind, cpv, title = SUBJECTS[h % len(SUBJECTS)]
            directive = h % 100 < 45
            social_stated = h % 12 == 0 or (kind == "Tjänster" and h % 7 == 0)
            social = social_stated and (h // 7) % 5 != 0
            reserved = (title in ("Lokalvård", "Boendestöd") and (h // 11) % 25 == 0)
            published = date(year, 1, 8) + timedelta(days=h % 340)
            rows.append([
                str(year), name.upper(), number, sector, subsector, legal, kind, cpv,
                "Direktiv 2014/24/EU", flag(directive, "Direktivstyrd"),
                "Öppet förfarande" if directive else "Förenklat förfarande",
                "Ramavtal" if h % 3 == 0 else "Kontrakt", flag(h % 40 == 0, "Samordnad upphandling"),
                flag(h % 6 == 0, "Miljömässigt hållbar upphandling") if h % 4 == 0 else "Uppgift saknas",
                flag(social, "Socialt hållbar upphandling") if social_stated else "Uppgift saknas",
                flag(h % 30 == 0, "Innovationsupphandling") if h % 8 == 0 else "Uppgift saknas",
                flag(reserved, "Reserverad upphandling"),
                flag(reserved and h % 2 == 0, "Reserverat genomförande"),
                DATABASES[h % len(DATABASES)], flag(h % 17 == 0, "Överprövad"),
                f"{('MA', 'EA', 'KA')[h % 3]}{year % 100:02d}{index:02d}{i:03d}",
                f"{title} {name.split()[0]} {year}", published.isoformat(), "1"])
    # one row whose buyer number fails its check digit: quarantined with the reason on ingest
    rows.append([str(year), "TRASIGT NUMMER AB", "5561000099", "Annat", "Annat", "Övriga aktiebolag", "Varor",
                 "30190000 Diverse kontorsutrustning", "Direktiv 2014/24/EU", "Inte direktivstyrd",
                 "Förenklat förfarande", "Kontrakt", "Inte samordnad upphandling", "Uppgift saknas",
                 "Uppgift saknas", "Uppgift saknas", "Inte reserverad upphandling",
                 "Inte reserverat genomförande", "e-Avrop", "Inte överprövad", f"EA{year % 100:02d}X001",
                 "Kontorsmaterial", f"{year}-06-01", "1"])
    return rows


def write(out: Path = OUT) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for year in YEARS:
        lines = [";".join(HEADER)] + [";".join(r) for r in sorted(rows_for(year), key=lambda r: r[20])]
        path = out / f"uhm-db-{year}.csv"
        path.write_bytes(("\ufeff" + "\r\n".join(lines) + "\r\n").encode("utf-8"))
        written.append(path)
    return written


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=OUT)
    for p in write(ap.parse_args().out):
        print(p)
