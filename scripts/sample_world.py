"""The synthetic world the bundled samples describe (shared by every sample generator).

Organisation numbers are synthetic: a made-up nine-digit stem completed with a valid Luhn check
digit. Buyers are the 13 Östergötland municipalities, Region Östergötland and a few buyers elsewhere;
suppliers span companies, cooperatives, idea-based organisations and a foundation.
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from sources.orgnr import with_check_digit  # noqa: E402


def orgnr(stem: str) -> str:
    return with_check_digit(stem)


# (org number, name, municipality code, town, postcode, buyer class)
BUYERS = [
    (orgnr("212000048"), "Ödeshögs kommun", "0509", "Ödeshög", "59980", "municipality"),
    (orgnr("212000050"), "Ydre kommun", "0512", "Österbymo", "57360", "municipality"),
    (orgnr("212000051"), "Kinda kommun", "0513", "Kisa", "59021", "municipality"),
    (orgnr("212000052"), "Boxholms kommun", "0560", "Boxholm", "59080", "municipality"),
    (orgnr("212000053"), "Åtvidabergs kommun", "0561", "Åtvidaberg", "59781", "municipality"),
    (orgnr("212000054"), "Finspångs kommun", "0562", "Finspång", "61280", "municipality"),
    (orgnr("212000055"), "Valdemarsviks kommun", "0563", "Valdemarsvik", "61521", "municipality"),
    (orgnr("212000044"), "Linköpings kommun", "0580", "Linköping", "58181", "municipality"),
    (orgnr("212000045"), "Norrköpings kommun", "0581", "Norrköping", "60181", "municipality"),
    (orgnr("212000056"), "Söderköpings kommun", "0582", "Söderköping", "61480", "municipality"),
    (orgnr("212000057"), "Motala kommun", "0583", "Motala", "59186", "municipality"),
    (orgnr("212000058"), "Vadstena kommun", "0584", "Vadstena", "59280", "municipality"),
    (orgnr("212000059"), "Mjölby kommun", "0586", "Mjölby", "59580", "municipality"),
    (orgnr("232100000"), "Region Östergötland", "05", "Linköping", "58191", "region"),
    (orgnr("212000068"), "Jönköpings kommun", "0680", "Jönköping", "55189", "municipality"),
    (orgnr("212000014"), "Stockholms stad", "0180", "Stockholm", "10535", "municipality"),
    (orgnr("202100547"), "Kammarkollegiet", "0180", "Stockholm", "10314", "state_agency"),
]

# (org number, name, Bolagsverket organisationsform, size BT-165, in the Bolagsverket file)
SUPPLIERS = [
    (orgnr("556100001"), "Östgöta Bygg AB", "AB", "medium", True),
    (orgnr("556100002"), "Linköpings Städservice AB", "AB", "small", True),
    (orgnr("556100003"), "Norrköping IT Konsult AB", "AB", "micro", True),
    (orgnr("556100004"), "Motala Transport AB", "AB", "small", True),
    (orgnr("556100005"), "Nordisk Omsorg AB", "AB", "large", True),
    (orgnr("556100006"), "Vätternbygdens Mat AB", "AB", "medium", True),
    (orgnr("556100007"), "Kinda Skog & Mark AB", "AB", "micro", True),
    (orgnr("556100008"), "Sverige Kontorsvaror AB", "AB", "large", True),
    (orgnr("969100009"), "Mjölby Måleri HB", "HB", "micro", True),
    (orgnr("769600010"), "Arbetskooperativet Vägen ekonomisk förening", "EK", "small", True),
    (orgnr("769600011"), "Socialt Företag Östergötland ek. för.", "EK", "micro", True),
    (orgnr("769600012"), "Finspångs Återbruk ekonomisk förening", "EK", "micro", True),
    (orgnr("769600013"), "Bostadsrättsföreningen Ågatan 5", "BRF", None, True),
    (orgnr("802400014"), "Stadsmissionen i Östergötland ideell förening", "I", "small", True),
    (orgnr("802400015"), "Idrottsföreningen Kamraterna Norrköping", "I", "micro", True),
    (orgnr("802400016"), "Stiftelsen Vägledning", "S", "small", True),
    (orgnr("556100017"), "Vadstena Café & Catering AB", "AB", "micro", True),
    (orgnr("556100018"), "Söderköpings El AB", "AB", "small", True),
    (orgnr("556100019"), "Grön Omställning Sverige AB", "AB", "medium", True),
    # winners not in the organisation registry: the match rate must show them
    (orgnr("802400020"), "Föreningen Gemenskap (ej i Bolagsverkets fil)", None, "micro", False),
    (orgnr("556100021"), "Nyregistrerad Konsult AB", None, "micro", False),
]

# Work-integration social enterprises in the curated list (org numbers of SUPPLIERS)
WISE = [SUPPLIERS[9][0], SUPPLIERS[10][0], SUPPLIERS[11][0]]
# Organisations in Kammarkollegiet's register of idea-based organisations
IDEBUREN = [SUPPLIERS[13][0], SUPPLIERS[15][0], SUPPLIERS[19][0]]

OSTERGOTLAND = ["0509", "0512", "0513", "0560", "0561", "0562", "0563",
                "0580", "0581", "0582", "0583", "0584", "0586"]
OTHER_MUNICIPALITIES = ["0680", "0180", "1280"]   # Jönköping, Stockholm, Malmö
