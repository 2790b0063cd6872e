"""TED: select Swedish notices with the Search API v3, download their eForms XML, and read it.

``parse`` turns one eForms UBL notice (or a zip / tar.gz daily package of many) into five tables
(``ted_notice``, ``ted_buyer``, ``ted_lot``, ``ted_lot_result``, ``ted_award``) plus
``ted_rejected`` (archive members that could not be read). ``inspect`` gives a JSON-able summary
per notice built from the same extraction. XPaths follow shared/reference/notes/procurement.md §2
(eForms SDK ``fields.json``); namespaces are matched by URI, never by prefix.

Rules worth knowing:
- absence of an optional flag (BT-71, BT-06, BT-775, BT-776, BT-774/805) is ``null``, never ``[]``;
- BT-775 is read under list name ``social-objective`` and the SDK-1.0 name ``social-procurement``;
- winners follow procurement.md §2.6: ``selec-w`` results (or results without BT-142, e.g. VEAT)
  → their LotTender references, else their SettledContract → LotTender; results ``clos-nw`` /
  ``open-nw`` never give winners; without any LotResult, each LotTender with its own lot;
  contract-modification notices (subtypes 38–40) change an earlier award and give no award rows;
- a winner that is a natural person (BT-633) or whose identifier looks like a personnummer keeps
  neither identifier nor name; org numbers are only derived for Swedish (or country-less) parties.
"""
from __future__ import annotations

import io
import json
import tarfile
import zipfile
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from urllib.parse import urlsplit, urlunsplit

import polars as pl
import requests
from lxml import etree

from sources import orgnr
from sources.base import FetchContext, Fetched, ParseError
from sources.http import request

SOURCE_ID = "ted"
DEFAULT_BASE = "https://api.ted.europa.eu"
SEARCH_PATH = "/v3/notices/search"
SEARCH_FIELDS = ["publication-number", "notice-identifier"]
PAGE_LIMIT = 250
MAX_MEMBER_BYTES = 64 * 1024 * 1024      # one notice; real ones are well under 1 MB
MODIFICATION_SUBTYPES = {"38", "39", "40"}

NS = {
    "cbc": "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2",
    "cac": "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2",
    "ext": "urn:oasis:names:specification:ubl:schema:xsd:CommonExtensionComponents-2",
    "efext": "http://data.europa.eu/p27/eforms-ubl-extensions/1",
    "efac": "http://data.europa.eu/p27/eforms-ubl-extension-aggregate-components/1",
    "efbc": "http://data.europa.eu/p27/eforms-ubl-extension-basic-components/1",
}
EFORMS_ROOTS = {"ContractNotice", "ContractAwardNotice", "PriorInformationNotice",
                "BusinessRegistrationInformationNotice"}

# ---------------------------------------------------------------------------------------------
# Output contract (table → column → dtype)

DEC = pl.Decimal(18, 2)
STRS = pl.List(pl.String)
SCHEMAS: dict[str, dict[str, pl.DataType]] = {
    "ted_notice": {
        "notice_id": pl.String, "notice_version": pl.String, "sdk_version": pl.String,
        "notice_subtype": pl.String, "notice_type": pl.String, "form_type": pl.String,
        "legal_basis": pl.String, "procedure_id": pl.String, "procedure_type": pl.String,
        "issue_date": pl.Date, "publication_date": pl.Date, "publication_number": pl.String,
        "notice_total_amount": DEC, "notice_total_currency": pl.String,
    },
    "ted_buyer": {
        "notice_id": pl.String, "notice_version": pl.String, "position": pl.Int32,
        "org_ref": pl.String, "company_id": pl.String, "org_number": pl.String, "name": pl.String,
        "country": pl.String, "nuts": pl.String, "town": pl.String, "postcode": pl.String,
        "legal_type": pl.String, "activity": pl.String,
    },
    "ted_lot": {
        "notice_id": pl.String, "notice_version": pl.String, "lot_id": pl.String,
        "lot_kind": pl.String, "title": pl.String, "main_cpv": pl.String,
        "place_nuts": pl.String, "place_country": pl.String,
        "reserved_participation": STRS, "reserved_execution": pl.String, "strategic": STRS,
        "social": STRS, "innovation": STRS, "green": STRS,
        "estimated_value": DEC, "estimated_currency": pl.String,
    },
    "ted_lot_result": {
        "notice_id": pl.String, "notice_version": pl.String, "result_id": pl.String,
        "lot_id": pl.String, "winner_selection_status": pl.String,
        "tenders_received": pl.Int32, "non_award_reason": pl.String,
    },
    "ted_award": {
        "notice_id": pl.String, "notice_version": pl.String, "result_id": pl.String,
        "lot_id": pl.String, "tender_id": pl.String, "tendering_party_id": pl.String,
        "winner_org_ref": pl.String, "winner_company_id": pl.String,
        "winner_org_number": pl.String, "winner_name": pl.String, "winner_country": pl.String,
        "winner_size": pl.String, "group_lead": pl.Boolean, "group_size": pl.Int32,
        "tender_value": DEC, "tender_currency": pl.String,
    },
    "ted_rejected": {"member": pl.String, "reason": pl.String},
}
NOTICE_TABLES = ["ted_notice", "ted_buyer", "ted_lot", "ted_lot_result", "ted_award"]

# ---------------------------------------------------------------------------------------------
# XPaths, compiled once

def _x(path: str) -> etree.XPath:
    return etree.XPath(path, namespaces=NS)


_EXT = "ext:UBLExtensions/ext:UBLExtension/ext:ExtensionContent/efext:EformsExtension"
X_EXT = _x(_EXT)
X_NOTICE_ID = _x("cbc:ID[@schemeName='notice-id']/text()")
X_ANY_ID = _x("cbc:ID/text()")
X_VERSION = _x("cbc:VersionID/text()")
X_SDK = _x("cbc:CustomizationID/text()")
X_FOLDER = _x("cbc:ContractFolderID/text()")
X_NOTICE_TYPE = _x("cbc:NoticeTypeCode")
X_LEGAL = _x("cbc:RegulatoryDomain/text()")
X_ISSUE = _x("cbc:IssueDate/text()")
X_PROC_TYPE = _x("cac:TenderingProcess/cbc:ProcedureCode/text()")
X_SUBTYPE = _x("efac:NoticeSubType/cbc:SubTypeCode/text()")
X_PUB_NO = _x("efac:Publication/efbc:NoticePublicationID/text()")
X_PUB_DATE = _x("efac:Publication/efbc:PublicationDate/text()")
X_TOTAL = _x("efac:NoticeResult/cbc:TotalAmount")

X_ORGS = _x("efac:Organizations/efac:Organization")
X_ORG_COMPANY = _x("efac:Company")
X_ORG_NATURAL = _x("efbc:NaturalPersonIndicator/text()")
X_CO_REF = _x("cac:PartyIdentification/cbc:ID/text()")
X_CO_NAME = _x("cac:PartyName/cbc:Name/text()")
X_CO_ID = _x("cac:PartyLegalEntity/cbc:CompanyID/text()")
X_CO_COUNTRY = _x("cac:PostalAddress/cac:Country/cbc:IdentificationCode/text()")
X_CO_NUTS = _x("cac:PostalAddress/cbc:CountrySubentityCode/text()")
X_CO_TOWN = _x("cac:PostalAddress/cbc:CityName/text()")
X_CO_POST = _x("cac:PostalAddress/cbc:PostalZone/text()")
X_CO_SIZE = _x("efbc:CompanySizeCode/text()")

X_PARTIES = _x("cac:ContractingParty")
X_PARTY_REF = _x("cac:Party/cac:PartyIdentification/cbc:ID/text()")   # direct child only
X_PARTY_LEGAL = _x("cac:ContractingPartyType/cbc:PartyTypeCode[@listName='buyer-legal-type']/text()")
X_PARTY_ACTIVITY = _x("cac:ContractingActivity/cbc:ActivityTypeCode"
                      "[@listName='authority-activity' or @listName='entity-activity']/text()")

X_LOTS = _x("cac:ProcurementProjectLot[cbc:ID/@schemeName='Lot' or cbc:ID/@schemeName='Part']")
X_LOT_ID = _x("cbc:ID")
X_LOT_TITLE = _x("cac:ProcurementProject/cbc:Name/text()")
X_LOT_CPV = _x("cac:ProcurementProject/cac:MainCommodityClassification/cbc:ItemClassificationCode/text()")
X_LOT_NUTS = _x("cac:ProcurementProject/cac:RealizedLocation/cac:Address/cbc:CountrySubentityCode/text()")
X_LOT_COUNTRY = _x("cac:ProcurementProject/cac:RealizedLocation/cac:Address/cac:Country/cbc:IdentificationCode/text()")
X_LOT_RESERVED = _x("cac:TenderingTerms/cac:TendererQualificationRequest/cac:SpecificTendererRequirement"
                    "/cbc:TendererRequirementTypeCode[@listName='reserved-procurement']/text()")
X_LOT_RES_EXEC = _x("cac:TenderingTerms/cac:ContractExecutionRequirement"
                    "/cbc:ExecutionRequirementCode[@listName='reserved-execution']/text()")
X_LOT_ADDTYPES = _x("cac:ProcurementProject/cac:ProcurementAdditionalType/cbc:ProcurementTypeCode")
X_LOT_ESTIMATE = _x("cac:ProcurementProject/cac:RequestedTenderTotal/cbc:EstimatedOverallContractAmount")

X_RESULTS = _x("efac:NoticeResult/efac:LotResult")
X_TENDERS = _x("efac:NoticeResult/efac:LotTender")
X_CONTRACTS = _x("efac:NoticeResult/efac:SettledContract")
X_TPAS = _x("efac:NoticeResult/efac:TenderingParty")
X_ID = _x("cbc:ID/text()")
X_RES_STATUS = _x("cbc:TenderResultCode/text()")
X_RES_TENDERS = _x("efac:LotTender/cbc:ID/text()")
X_RES_CONTRACTS = _x("efac:SettledContract/cbc:ID/text()")
X_RES_LOT = _x("efac:TenderLot/cbc:ID/text()")
X_RES_RECEIVED = _x("efac:ReceivedSubmissionsStatistics[normalize-space(efbc:StatisticsCode)='tenders']"
                    "/efbc:StatisticsNumeric/text()")
X_RES_REASON = _x("efac:DecisionReason/efbc:DecisionReasonCode/text()")
X_TEN_VALUE = _x("cac:LegalMonetaryTotal/cbc:PayableAmount")
X_TEN_TPA = _x("efac:TenderingParty/cbc:ID/text()")
X_TPA_TENDERERS = _x("efac:Tenderer")
X_TENDERER_LEAD = _x("efbc:GroupLeadIndicator/text()")

# BT-06 / BT-775 / BT-776 / BT-774 / BT-805 list names → lot field
_ADDTYPE_FIELD = {
    "strategic-procurement": "strategic",
    "social-objective": "social",
    "social-procurement": "social",        # SDK 1.0 name of the BT-775 list
    "innovative-acquisition": "innovation",
    "environmental-impact": "green",
    "gpp-criteria": "gpp",
}

# ---------------------------------------------------------------------------------------------
# Small helpers

def _first(values: list) -> str | None:
    for v in values:
        s = v.strip() if isinstance(v, str) else v
        if s:
            return str(s)
    return None


def _texts(values: list) -> list[str] | None:
    out = [v.strip() for v in values if v and v.strip()]
    return out or None


def _text(el) -> str | None:
    if el is None or el.text is None:
        return None
    return el.text.strip() or None


def _date(raw: str | None) -> date | None:
    if not raw:
        return None
    try:
        return date.fromisoformat(raw.strip()[:10])
    except ValueError:
        return None


def _amount(el) -> tuple[Decimal | None, str | None]:
    """(value, currency) of an amount element; a value that is not a number gives None."""
    if el is None:
        return None, None
    currency = (el.get("currencyID") or "").strip() or None
    raw = _text(el)
    if raw is None:
        return None, currency
    try:
        value = Decimal(raw).quantize(Decimal("0.01"))
    except InvalidOperation:
        return None, currency
    if not value.is_finite() or abs(value) >= Decimal("1e16"):
        return None, currency
    return value, currency


def _bool(raw: str | None) -> bool | None:
    if raw is None:
        return None
    s = raw.strip().lower()
    return True if s in ("true", "1") else False if s in ("false", "0") else None


def _int(raw: str | None) -> int | None:
    if raw is None:
        return None
    try:
        value = int(Decimal(raw.strip()))
    except (InvalidOperation, ValueError):
        return None
    return value if -2**31 <= value < 2**31 else None


def _is_personal(company_id: str | None) -> bool:
    """``orgnr.is_personal_number``, except that a VAT number (SE + 10 digits + 01) is judged on
    its 10 digits: orgnr treats every 12-digit string starting 18/19/20 as a personnummer, which
    would also drop e.g. Kammarkollegiet's VAT number SE202100547101."""
    if company_id is None:
        return False
    if company_id.strip().upper().startswith("SE"):
        core = orgnr.digits_of(company_id)
        if core is not None:
            return core[2] in "01"
    return orgnr.is_personal_number(company_id)


def _swedish_number(company_id: str | None, country: str | None) -> str | None:
    if company_id is None or country not in (None, "SWE"):
        return None
    return orgnr.normalise(company_id)


# ---------------------------------------------------------------------------------------------
# Reading one notice

_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)


def _root_of(data: bytes) -> etree._Element:
    head = data[:8192].lstrip()
    if b"<!DOCTYPE" in head.upper() or b"<!ENTITY" in head.upper():
        raise ParseError("DTD/entities are refused")
    try:
        root = etree.fromstring(data, _PARSER)
    except etree.XMLSyntaxError as exc:
        raise ParseError(f"not well-formed XML: {exc}") from None
    tree = root.getroottree()
    if tree.docinfo.doctype or tree.docinfo.internalDTD is not None:
        raise ParseError("DTD/entities are refused")
    local = etree.QName(root).localname
    if local == "TED_EXPORT":
        raise ParseError("legacy TED-XML (R2.0.9) is not supported yet")
    if local not in EFORMS_ROOTS:
        raise ParseError(f"not an eForms notice: root element <{local}>")
    return root


def _organisations(ext) -> dict[str, dict]:
    orgs: dict[str, dict] = {}
    if ext is None:
        return orgs
    for org in X_ORGS(ext):
        companies = X_ORG_COMPANY(org)
        if not companies:
            continue
        co = companies[0]
        ref = _first(X_CO_REF(co))
        if ref is None:
            continue
        orgs[ref] = {
            "company_id": _first(X_CO_ID(co)),
            "name": _first(X_CO_NAME(co)),
            "country": _first(X_CO_COUNTRY(co)),
            "nuts": _first(X_CO_NUTS(co)),
            "town": _first(X_CO_TOWN(co)),
            "postcode": _first(X_CO_POST(co)),
            "size": _first(X_CO_SIZE(co)),
            "natural_person": _bool(_first(X_ORG_NATURAL(org))) is True,
        }
    return orgs


def _extract(root) -> dict[str, list[dict]]:
    """Rows of the five notice tables for one parsed eForms notice."""
    exts = X_EXT(root)
    ext = exts[0] if exts else None
    notice_id = _first(X_NOTICE_ID(root)) or _first(X_ANY_ID(root))
    version = _first(X_VERSION(root))
    if notice_id is None:
        raise ParseError("notice has no identifier (BT-701 cbc:ID)")
    subtype = _first(X_SUBTYPE(ext)) if ext is not None else None
    if subtype is None:
        raise ParseError(f"notice {notice_id}: no notice subtype (OPP-070)")
    issue_raw = _first(X_ISSUE(root))
    issue = _date(issue_raw)
    if issue is None:
        raise ParseError(f"notice {notice_id}: no valid issue date (BT-05): {issue_raw!r}")
    type_el = X_NOTICE_TYPE(root)
    total, total_cur = _amount((X_TOTAL(ext) or [None])[0] if ext is not None else None)
    key = {"notice_id": notice_id, "notice_version": version}

    notice = {
        **key,
        "sdk_version": _first(X_SDK(root)),
        "notice_subtype": subtype,
        "notice_type": _text(type_el[0]) if type_el else None,
        "form_type": type_el[0].get("listName") if type_el else None,
        "legal_basis": _first(X_LEGAL(root)),
        "procedure_id": _first(X_FOLDER(root)),
        "procedure_type": _first(X_PROC_TYPE(root)),
        "issue_date": issue,
        "publication_date": _date(_first(X_PUB_DATE(ext))) if ext is not None else None,
        "publication_number": _first(X_PUB_NO(ext)) if ext is not None else None,
        "notice_total_amount": total,
        "notice_total_currency": total_cur,
    }

    orgs = _organisations(ext)
    buyers = []
    for pos, party in enumerate(X_PARTIES(root), start=1):
        ref = _first(X_PARTY_REF(party))
        org = orgs.get(ref or "", {})
        company_id = org.get("company_id")
        if _is_personal(company_id):
            company_id = None
        buyers.append({
            **key, "position": pos, "org_ref": ref, "company_id": company_id,
            "org_number": _swedish_number(company_id, org.get("country")),
            "name": org.get("name"), "country": org.get("country"), "nuts": org.get("nuts"),
            "town": org.get("town"), "postcode": org.get("postcode"),
            "legal_type": _first(X_PARTY_LEGAL(party)),
            "activity": _first(X_PARTY_ACTIVITY(party)),
        })

    lots = []
    for lot in X_LOTS(root):
        id_el = X_LOT_ID(lot)[0]
        flags: dict[str, list[str]] = {}
        for code in X_LOT_ADDTYPES(lot):
            field = _ADDTYPE_FIELD.get((code.get("listName") or "").strip())
            value = _text(code)
            if field and value:
                flags.setdefault(field, []).append(value)
        green = (flags.get("green") or []) + (flags.get("gpp") or [])
        est, est_cur = _amount((X_LOT_ESTIMATE(lot) or [None])[0])
        lots.append({
            **key, "lot_id": _text(id_el), "lot_kind": id_el.get("schemeName"),
            "title": _first(X_LOT_TITLE(lot)), "main_cpv": _first(X_LOT_CPV(lot)),
            "place_nuts": _first(X_LOT_NUTS(lot)), "place_country": _first(X_LOT_COUNTRY(lot)),
            "reserved_participation": _texts(X_LOT_RESERVED(lot)),
            "reserved_execution": _first(X_LOT_RES_EXEC(lot)),
            "strategic": flags.get("strategic"), "social": flags.get("social"),
            "innovation": flags.get("innovation"), "green": green or None,
            "estimated_value": est, "estimated_currency": est_cur,
        })

    results, awards = [], []
    if ext is not None:
        results, awards = _results(ext, key, orgs, subtype)
    return {"ted_notice": [notice], "ted_buyer": buyers, "ted_lot": lots,
            "ted_lot_result": results, "ted_award": awards}


def _results(ext, key: dict, orgs: dict[str, dict], subtype: str) -> tuple[list[dict], list[dict]]:
    tenders: dict[str, dict] = {}
    for ten in X_TENDERS(ext):
        tid = _first(X_ID(ten))
        if tid is None:
            continue
        value, currency = _amount((X_TEN_VALUE(ten) or [None])[0])
        tenders[tid] = {"value": value, "currency": currency,
                        "tpa": _first(X_TEN_TPA(ten)), "lot": _first(X_RES_LOT(ten))}
    contracts: dict[str, list[str]] = {}
    for con in X_CONTRACTS(ext):
        cid = _first(X_ID(con))
        if cid is not None:
            contracts.setdefault(cid, []).extend(t.strip() for t in X_RES_TENDERS(con) if t.strip())
    parties: dict[str, list[tuple[str, bool | None]]] = {}
    for tpa in X_TPAS(ext):
        pid = _first(X_ID(tpa))
        if pid is None:
            continue
        members = []
        for tenderer in X_TPA_TENDERERS(tpa):
            ref = _first(X_ID(tenderer))
            if ref is not None:
                members.append((ref, _bool(_first(X_TENDERER_LEAD(tenderer)))))
        parties[pid] = members

    results = []
    picks: list[tuple[str | None, str | None, str]] = []     # (result id, lot id, tender id)
    lot_results = X_RESULTS(ext)
    for res in lot_results:
        rid = _first(X_ID(res))
        lot_id = _first(X_RES_LOT(res))
        status = _first(X_RES_STATUS(res))
        results.append({
            **key, "result_id": rid, "lot_id": lot_id, "winner_selection_status": status,
            "tenders_received": _int(_first(X_RES_RECEIVED(res))),
            "non_award_reason": _first(X_RES_REASON(res)),
        })
        if status not in (None, "selec-w"):
            continue          # clos-nw / open-nw: tender references are not winners
        refs = [t.strip() for t in X_RES_TENDERS(res) if t.strip()]
        if not refs:
            for cid in X_RES_CONTRACTS(res):
                refs.extend(contracts.get(cid.strip(), []))
        for tid in dict.fromkeys(refs):
            picks.append((rid, lot_id or tenders.get(tid, {}).get("lot"), tid))
    if not lot_results:
        picks = [(None, t["lot"], tid) for tid, t in tenders.items()]

    awards = []
    if subtype in MODIFICATION_SUBTYPES:
        return results, awards
    seen = set()
    for rid, lot_id, tid in picks:
        tender = tenders.get(tid)
        if tender is None or tender["tpa"] is None:
            continue
        members = parties.get(tender["tpa"], [])
        for ref, lead in members:
            if (rid, lot_id, tid, ref) in seen:
                continue
            seen.add((rid, lot_id, tid, ref))
            org = orgs.get(ref, {})
            company_id, name = org.get("company_id"), org.get("name")
            if org.get("natural_person") or _is_personal(company_id):
                company_id = name = None        # personal data never leaves this function
            awards.append({
                **key, "result_id": rid, "lot_id": lot_id, "tender_id": tid,
                "tendering_party_id": tender["tpa"], "winner_org_ref": ref,
                "winner_company_id": company_id,
                "winner_org_number": _swedish_number(company_id, org.get("country")),
                "winner_name": name, "winner_country": org.get("country"),
                "winner_size": org.get("size"), "group_lead": lead,
                "group_size": len(members),
                "tender_value": tender["value"], "tender_currency": tender["currency"],
            })
    return results, awards


# ---------------------------------------------------------------------------------------------
# Archives

def _members(data: bytes):
    """Yield (member name, bytes or an error string) for a zip / tar(.gz) archive; None if
    ``data`` is not an archive."""
    if data[:4] == b"PK\x03\x04" or data[:4] == b"PK\x05\x06":
        return _zip_members(data)
    if data[:2] == b"\x1f\x8b" or data[257:262] == b"ustar":
        return _tar_members(data)
    return None


def _zip_members(data: bytes):
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, OSError) as exc:
        raise ParseError(f"unreadable zip archive: {exc}") from None
    with zf:
        for info in zf.infolist():
            if info.is_dir():
                continue
            if info.file_size > MAX_MEMBER_BYTES:
                yield info.filename, f"member larger than {MAX_MEMBER_BYTES} bytes"
                continue
            try:
                yield info.filename, zf.read(info)
            except Exception as exc:   # CRC errors, truncation, bad compression
                yield info.filename, f"unreadable member: {type(exc).__name__}: {exc}"


def _tar_members(data: bytes):
    try:
        tf = tarfile.open(fileobj=io.BytesIO(data), mode="r:*")
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise ParseError(f"unreadable tar archive: {exc}") from None
    with tf:
        while True:
            try:
                info = tf.next()
            except (tarfile.TarError, OSError, EOFError) as exc:
                yield "<archive>", f"archive truncated after the previous member: {type(exc).__name__}"
                return
            if info is None:
                return
            if not info.isfile():
                continue
            if info.size > MAX_MEMBER_BYTES:
                yield info.name, f"member larger than {MAX_MEMBER_BYTES} bytes"
                continue
            try:
                fh = tf.extractfile(info)
                body = fh.read() if fh is not None else b""
                if len(body) != info.size:
                    raise EOFError("short read")
                yield info.name, body
            except (tarfile.TarError, OSError, EOFError) as exc:
                yield info.name, f"unreadable member: {type(exc).__name__}: {exc}"


def _notices(data: bytes, name: str):
    """Yield ("ok", member, rows) or ("bad", member, reason) for every notice in ``data``."""
    members = _members(data)
    if members is None:
        yield "ok", name, _extract(_root_of(data))
        return
    for member, body in members:
        if isinstance(body, str):
            yield "bad", member, body
            continue
        try:
            yield "ok", member, _extract(_root_of(body))
        except ParseError as exc:
            yield "bad", member, str(exc)


def _frame(table: str, rows: list[dict]) -> pl.DataFrame:
    schema = SCHEMAS[table]
    return pl.DataFrame({c: [r[c] for r in rows] for c in schema}, schema=schema)


def empty_frames() -> dict[str, pl.DataFrame]:
    return {t: _frame(t, []) for t in SCHEMAS}


def parse(data: bytes, name: str) -> dict[str, pl.DataFrame]:
    """Tables of one eForms notice XML or of a zip / tar.gz package of notices."""
    rows: dict[str, list[dict]] = {t: [] for t in SCHEMAS}
    for status, member, payload in _notices(data, name):
        if status == "ok":
            for table in NOTICE_TABLES:
                rows[table].extend(payload[table])
        else:
            rows["ted_rejected"].append({"member": member, "reason": payload})
    return {t: _frame(t, rows[t]) for t in SCHEMAS}


def inspect(data: bytes, name: str) -> list[dict]:
    """One JSON-able summary per notice (archive members that fail are left out)."""
    out = []
    for status, _member, r in _notices(data, name):
        if status != "ok":
            continue
        n = r["ted_notice"][0]
        out.append({
            "notice_id": n["notice_id"], "version": n["notice_version"],
            "subtype": n["notice_subtype"], "notice_type": n["notice_type"],
            "procedure_id": n["procedure_id"],
            "buyers": [{k: b[k] for k in ("org_ref", "company_id", "name", "country", "nuts",
                                          "legal_type")} for b in r["ted_buyer"]],
            "lots": [{k: lot[k] for k in ("lot_id", "reserved_participation", "strategic",
                                          "social", "innovation", "green")} for lot in r["ted_lot"]],
            "awards": [{"lot_id": a["lot_id"], "winner_company_id": a["winner_company_id"],
                        "winner_country": a["winner_country"], "winner_size": a["winner_size"],
                        "amount": None if a["tender_value"] is None else str(a["tender_value"]),
                        "currency": a["tender_currency"]} for a in r["ted_award"]],
        })
    return out


# ---------------------------------------------------------------------------------------------
# Fetch

def _rebase(url: str, base: str | None) -> str:
    if not base:
        return url
    b, u = urlsplit(base), urlsplit(url)
    return urlunsplit((b.scheme, b.netloc, u.path, u.query, u.fragment))


def search_body(since: date, token: str | None = None) -> dict:
    body = {
        "query": f"buyer-country = SWE AND publication-date >= {since:%Y%m%d}",
        "fields": list(SEARCH_FIELDS),
        "limit": PAGE_LIMIT,
        "scope": "ALL",
        "paginationMode": "ITERATION",
    }
    if token:
        body["iterationNextToken"] = token
    return body


def fetch(ctx: FetchContext) -> list[Fetched]:
    """Search Swedish notices published since ``ctx.since`` and download each notice's XML."""
    base = (ctx.base_url or DEFAULT_BASE).rstrip("/")
    since = ctx.since or (date.today() - timedelta(days=3))
    session = requests.Session()
    first = search_body(since)
    query = json.dumps(first, sort_keys=True)
    links: dict[str, str] = {}
    token = None
    for _page in range(100_000):
        body = search_body(since, token)
        resp = request(SOURCE_ID, "POST", base + SEARCH_PATH, session=session, json=body,
                       headers={"Accept": "application/json"})
        page = resp.json()
        notices = page.get("notices") or []
        if not notices:
            break
        for notice in notices:
            number = notice.get("publication-number")
            if isinstance(number, list):
                number = number[0] if number else None
            if not number or number in links:
                continue
            link = (((notice.get("links") or {}).get("xml") or {}).get("MUL")
                    or f"https://ted.europa.eu/en/notice/{number}/xml")
            links[number] = link
        token = page.get("iterationNextToken")
        if not token:
            break
    out = []
    for number, link in links.items():
        url = _rebase(link, ctx.base_url)
        resp = request(SOURCE_ID, "GET", url, session=session,
                       headers={"Accept": "application/xml"})
        out.append(Fetched(resp.content, "xml", url=url, query=query,
                           http_status=resp.status_code, name=f"{number}.xml"))
    return out
