"""The one place naming every source: id, family, cadence, rejection threshold, load mode.

The id is what users type (``krafter ingest ID``, ``--only``), what events name
(``krafter.dataset.<id>``) and what ``meta`` tables key on.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from types import ModuleType


@dataclass(frozen=True)
class SourceSpec:
    id: str
    family: str            # labour | procurement | organisations
    title: str
    module: str            # python module implementing fetch/parse
    cadence_days: int      # expected refresh interval; status flags a source older than this as stale
    reject_share: float    # a snapshot whose quarantined share exceeds this is not loaded
    mode: str              # "replace": newest snapshot is the whole dataset; "append": snapshots accumulate
    licence: str
    url: str
    fetchable: bool = True  # False: no machine-readable download; only `krafter ingest ID --file`
    # append mode whose snapshots each hold whole partitions by this column (uhm-db: a year's export):
    # a partition's newest snapshot replaces the rows older snapshots gave it
    partition: str | None = None

    def load(self) -> ModuleType:
        return importlib.import_module(self.module)


SOURCES: dict[str, SourceSpec] = {s.id: s for s in [
    SourceSpec("pxweb", "labour", "SCB PxWebApi 2.0: BAS per kommun and month, population",
               "sources.pxweb", 31, 0.05, "replace", "CC0 1.0 (Källa: SCB)",
               "https://statistikdatabasen.scb.se/api/v2"),
    SourceSpec("kolada", "labour", "Kolada API v3: KPIs per municipality and year",
               "sources.kolada", 31, 0.05, "replace", "free reuse, cite 'Källa: Kolada'",
               "https://api.kolada.se/v3"),
    SourceSpec("af", "labour", "Arbetsförmedlingen monthly statistics per kommun",
               "sources.af", 31, 0.05, "append", "not stated by Arbetsförmedlingen",
               "https://arbetsformedlingen.se/statistik"),
    SourceSpec("ted", "procurement", "TED Search API v3 + eForms notice XML",
               "sources.ted", 1, 0.10, "append", "TED reuse policy (Commission Decision 2011/833/EU)",
               "https://api.ted.europa.eu/v3/notices/search"),
    SourceSpec("uhm", "procurement", "Upphandlingsmyndigheten's national statistics (benchmark)",
               "sources.uhm", 366, 0.05, "replace", "cite Upphandlingsmyndigheten and date",
               "https://www.upphandlingsmyndigheten.se/statistik/", fetchable=False),
    SourceSpec("uhm-db", "procurement", "Upphandlingsmyndigheten's statistics database: every advertised procurement",
               "sources.uhm_db", 92, 0.05, "append", "open data; cite Upphandlingsmyndigheten and date",
               "https://www.upphandlingsmyndigheten.se/statistik/statistikdatabasen/", partition="year"),
    SourceSpec("bolagsverket", "organisations", "Bolagsverket bulk file (high-value dataset)",
               "sources.bolagsverket", 7, 0.02, "replace", "HVD (CC BY 4.0 or more permissive); attribute Bolagsverket",
               "https://vardefulla-datamangder.bolagsverket.se/bolagsverket/bolagsverket_bulkfil.zip"),
    SourceSpec("scb-register", "organisations", "SCB company register bulk file (JurForm, SNI)",
               "sources.scb_register", 7, 0.02, "replace", "HVD; attribute SCB",
               "https://vardefulla-datamangder.bolagsverket.se/scb/scb_bulkfil.zip"),
    SourceSpec("ftgstat", "organisations", "Bolagsverket registration statistics per kommun and legal form",
               "sources.ftgstat", 31, 0.02, "replace", "CC BY 2.5 SE",
               "https://www.bolagsverket.se/statistik/ftgstat_oppna.csv"),
    SourceSpec("ideburen", "organisations", "Kammarkollegiet's register of idea-based organisations",
               "sources.ideburen", 31, 0.05, "replace", "public register (Lag 2022:900)",
               "https://www.kammarkollegiet.se/vara-tjanster/ideburna-organisationer/register-over-ideburna-organisationer", fetchable=False),
    SourceSpec("wise", "organisations", "Curated list of work-integration social enterprises (CSV)",
               "sources.wise", 366, 0.20, "replace", "kept by the user", "file", fetchable=False),
    SourceSpec("iop", "organisations", "Curated list of IOP agreements (CSV)",
               "sources.iop", 366, 0.20, "replace", "kept by the user", "file", fetchable=False),
]}

FAMILIES: dict[str, list[str]] = {}
for _s in SOURCES.values():
    FAMILIES.setdefault(_s.family, []).append(_s.id)


class UnknownSource(ValueError):
    pass


def get(source_id: str) -> SourceSpec:
    try:
        return SOURCES[source_id]
    except KeyError:
        raise UnknownSource(
            f"unknown source '{source_id}': known ids are {', '.join(SOURCES)}") from None


def select(only: str | None) -> list[SourceSpec]:
    """Sources named by a comma-separated list of ids and/or families; all when ``only`` is empty."""
    if not only:
        return list(SOURCES.values())
    chosen: list[str] = []
    for token in (t.strip() for t in only.split(",") if t.strip()):
        ids = FAMILIES.get(token) or [get(token).id]
        chosen += [i for i in ids if i not in chosen]
    return [SOURCES[i] for i in chosen]


def implemented(spec: SourceSpec) -> bool:
    """Whether the source module exists in this version (some sources land in later issues)."""
    try:
        spec.load()
    except ModuleNotFoundError as exc:
        if exc.name == spec.module:
            return False
        raise
    return True
