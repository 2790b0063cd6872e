"""TED: select Swedish notices with the Search API v3, download their XML, and read it.

``parse`` turns one notice (eForms UBL, or legacy TED-XML R2.0.9 — dispatched on the root element)
or a zip / tar.gz daily package of many into five tables (``ted_notice``, ``ted_buyer``,
``ted_lot``, ``ted_lot_result``, ``ted_award``) plus ``ted_rejected`` (archive members that could
not be read). ``inspect`` gives a JSON-able summary per notice built from the same extraction, with
the same keys for both formats. eForms XPaths follow shared/reference/notes/procurement.md §2
(eForms SDK ``fields.json``); namespaces are matched by URI, never by prefix.

Rules worth knowing (eForms):
- absence of an optional flag (BT-71, BT-06, BT-775, BT-776, BT-774/805) is ``null``, never ``[]``;
- BT-775 is read under list name ``social-objective`` and the SDK-1.0 name ``social-procurement``;
- winners follow procurement.md §2.6: ``selec-w`` results (or results without BT-142, e.g. VEAT)
  → their LotTender references, else their SettledContract → LotTender; results ``clos-nw`` /
  ``open-nw`` never give winners; without any LotResult, each LotTender with its own lot;
  contract-modification notices (subtypes 38–40) change an earlier award and give no award rows;
- a winner that is a natural person (BT-633) or whose identifier looks like a personnummer keeps
  neither identifier nor name; org numbers are only derived for Swedish (or country-less) parties;
- an unknown subtype or SDK version is kept as published (core classifies the subtype as 'other').

Legacy TED-XML (R2.0.9; the R2.0.8 namespace is accepted for the same ``Fnn_2014`` forms), read
into the same tables, columns and dtypes (procurement.md §4):
- forms F01, F02, F03, F04, F05, F06, F15, F20, F21, F22 (``FORM_SECTION/*`` with
  ``@CATEGORY='ORIGINAL'``); other forms (F14 corrigenda — their changes are free text —, defence,
  concessions, design contests, R2.0.8's old forms) raise ``ParseError`` naming the form;
- F15 (voluntary ex-ante transparency) and F20 (modification during the term) take their subtype
  from the legal basis, else the form's ``DIRECTIVE_*`` element: F15 → 25 (2014/24), 26 (2014/25),
  27 (2009/81), 28 (2014/23), notice type ``veat``, form type ``dir-awa-pre``, with its awards
  (the procedure type from ``PROCEDURE/DIRECTIVE_*/PT_*``, e.g. ``neg-wo-call``); F20 → 38, 39,
  40, ``can-modif`` / ``cont-modif``, notice, buyers and lots only — like eForms modification
  notices it gives no award rows (its ``AWARD_CONTRACT`` repeats the award it changes);
  NUTS codes are read in the 2016 and the 2021 NUTS namespaces;
- ``notice_id`` = ``publication_number`` = ``@DOC_ID`` (``091489-2019``), ``notice_version`` "1",
  ``sdk_version`` "R2.0.9" (or "R2.0.8"), ``legal_basis`` = ``LEGAL_BASIS/@VALUE``;
- ``notice_subtype`` from form + ``NOTICE/@TYPE`` (or ``TD_DOCUMENT_TYPE/@CODE`` when the form has
  no NOTICE element), as in the official converter's table (OP-TED/ted-xml-data-converter,
  ``xslt/notice-type-mapping.xml``): see ``LEGACY_SUBTYPES``; ``notice_type`` / ``form_type`` are
  the BT-02 / BT-03 codes of that subtype (``cn-standard``/``competition`` …);
- ``procedure_id``: TED-XML has no procedure identifier. It is the earliest notice referenced in
  ``NOTICE_DATA/REF_NOTICE/NO_DOC_OJS`` or ``PROCEDURE/NOTICE_NUMBER_OJ`` (``2019/S 237-581525``
  → ``581525-2019``), else the notice's own DOC_ID — so an award links to its call. A call that
  itself references a PIN takes the PIN's number, and an award that references only the call
  then misses the PIN: the link is as good as the references the buyer filled in;
- ``publication_date`` = ``REF_OJS/DATE_PUB``; ``issue_date`` = ``DATE_DISPATCH_NOTICE``, else
  ``DS_DATE_DISPATCH``, else the publication date;
- buyers: ``ADDRESS_CONTRACTING_BODY`` (+ ``…_ADDITIONAL`` for joint procurement), ids
  ``ORG-0001``…; ``CA_TYPE/@VALUE`` → BT-11 by ``LEGACY_CA_TYPE`` (the converter's
  ``ca-types-mapping.xml``; note ``REGIONAL_AUTHORITY`` means "regional or local authority" and
  maps to ``ra``, so a municipality is only classed by its name or the curated buyer table);
  ``CA_ACTIVITY`` / ``CE_ACTIVITY`` → BT-10 / BT-610 codes; countries alpha-2 → alpha-3;
- lots: ``OBJECT_DESCR`` (``LOT_NO`` n → ``LOT-000n``; no lot number → ``LOT-0000``), main CPV
  from ``OBJECT_CONTRACT/CPV_MAIN``, NUTS from ``OBJECT_DESCR/n2016:NUTS``;
- reserved contracts (section III.1.5 ``LEFTI``, planning and competition notices only):
  ``RESTRICTED_SHELTERED_WORKSHOP`` → BT-71 ``res-ws``, ``RESERVED_ORGANISATIONS_SERVICE_MISSION``
  → ``res-pub-ser``, neither → ``["none"]`` (the form has the tick boxes);
  ``RESTRICTED_SHELTERED_PROGRAM`` → BT-736 ``yes``, else ``no``. A notice without ``LEFTI``
  (every award form) leaves both null;
- strategic / social / innovation / green are always null: the legacy forms have no structured
  fields for them (social content is free text in award criteria and performance conditions);
- results: one ``ted_lot_result`` per ``AWARD_CONTRACT`` (``RES-<ITEM>``): ``selec-w`` with
  ``AWARDED_CONTRACT``, ``clos-nw`` with ``NO_AWARDED_CONTRACT`` (non-award reason left null: the
  legacy reasons do not map 1:1), tenders received = ``NB_TENDERS_RECEIVED``;
- awards: one ``ted_award`` row per ``CONTRACTOR`` sharing one tender (``TEN-<ITEM>``) and
  tendering party; ``group_size`` = number of contractors (``AWARDED_TO_GROUP``), ``group_lead``
  null (not in the form); ``winner_size`` "sme" for ``<SME/>``, null otherwise (``<NO_SME/>`` says
  "not an SME", which is not a BT-165 code); value = ``VALUES/VAL_TOTAL`` with its currency (a
  range ``VAL_RANGE_TOTAL`` gives null); the personnummer rule of eForms applies. One CONTRACTOR
  may hold a whole consortium with comma-separated NATIONALIDs: it stays one row, no org number.
"""
from __future__ import annotations

import io
import json
import multiprocessing as mp
import re
import time
import tarfile
import zipfile
from concurrent.futures import ProcessPoolExecutor
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
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
MAX_PAGES = 100_000
RETRY_TIMED_OUT_SECONDS = 5.0              # pause before asking a timed-out page once more
MAX_NOTICE_BYTES = 50 * 1024 * 1024      # one notice; real ones are well under 1 MB
MAX_MEMBER_BYTES = MAX_NOTICE_BYTES
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
    """The root element of one notice (eForms or TED-XML), refusing oversized input and DTDs."""
    if len(data) > MAX_NOTICE_BYTES:
        raise ParseError(f"notice larger than {MAX_NOTICE_BYTES // (1024 * 1024)} MB "
                         f"({len(data)} bytes)")
    head = data[:8192]
    if b"<!" in head:                      # cheap test first: only then look for a DTD
        upper = head.upper()
        if b"<!DOCTYPE" in upper or b"<!ENTITY" in upper:
            raise ParseError("DTD/entities are refused")
    try:
        root = etree.fromstring(data, _PARSER)
    except etree.XMLSyntaxError as exc:
        raise ParseError(f"not well-formed XML: {exc}") from None
    tree = root.getroottree()
    if tree.docinfo.doctype or tree.docinfo.internalDTD is not None:
        raise ParseError("DTD/entities are refused")
    return root


def _read(data: bytes) -> dict[str, list[dict]]:
    """Rows of the five notice tables for one notice, dispatched on its root element."""
    root = _root_of(data)
    qname = etree.QName(root)
    if qname.localname == "TED_EXPORT":
        return _extract_legacy(root, qname.namespace)
    if qname.localname not in EFORMS_ROOTS:
        raise ParseError(f"not an eForms or TED-XML notice: root element <{qname.localname}>")
    return _extract(root)


# Navigation by direct children. Every field below reads the same nodes as the XPath beside it
# (kept in the X_* constants above as the specification): child steps in document order, text()
# = the element's text and its children's tails, ``[@a='v']`` = an exact attribute match. One
# dict of children per element replaces a generic XPath evaluation per field (~3× faster).

_CBC, _CAC = "{%s}" % NS["cbc"], "{%s}" % NS["cac"]
_EXTNS, _EFEXT = "{%s}" % NS["ext"], "{%s}" % NS["efext"]
_EFAC, _EFBC = "{%s}" % NS["efac"], "{%s}" % NS["efbc"]
T_ID = _CBC + "ID"
_EXT_STEPS = (_EXTNS + "UBLExtensions", _EXTNS + "UBLExtension", _EXTNS + "ExtensionContent",
              _EFEXT + "EformsExtension")
_NONE: tuple = ()
_WS = re.compile(r"[ \t\r\n]+")


def _kids(nodes) -> dict:
    """Children of ``nodes`` (elements, in document order) by tag."""
    out: dict = {}
    for n in nodes:
        for c in n:
            tag = c.tag
            if tag in out:
                out[tag].append(c)
            else:
                out[tag] = [c]
    return out


def _step(nodes, *tags) -> list:
    """Elements reached from ``nodes`` by child steps ``tags`` (XPath ``a/b/c``), document order."""
    for tag in tags:
        nodes = [c for n in nodes for c in n.iterchildren(tag)]
    return nodes


def _tx(el) -> str | None:
    """``_first(el.xpath('text()'))``: the first non-blank text node of ``el``, stripped."""
    t = el.text
    if t is not None:
        t = t.strip()
        if t:
            return t
    if len(el):
        for c in el:
            t = c.tail
            if t is not None:
                t = t.strip()
                if t:
                    return t
    return None


def _ftx(nodes) -> str | None:
    """``_first`` of the text nodes of ``nodes``."""
    for el in nodes:
        t = _tx(el)
        if t is not None:
            return t
    return None


def _alltx(nodes) -> list[str]:
    """Every text node of ``nodes`` (``a/b/text()``), unstripped, document order."""
    out = []
    for el in nodes:
        if el.text is not None:
            out.append(el.text)
        for c in el:
            if c.tail is not None:
                out.append(c.tail)
    return out


def _with(nodes, attr: str, *values: str) -> list:
    return [n for n in nodes if n.get(attr) in values]


def _organisations(ek: dict) -> dict[str, dict]:
    """Organisations of the eForms extension (``ek``: its children by tag)."""
    orgs: dict[str, dict] = {}
    for org in _step(ek.get(_EFAC + "Organizations", _NONE), _EFAC + "Organization"):
        co = next(org.iterchildren(_EFAC + "Company"), None)                          # X_ORG_COMPANY
        if co is None:
            continue
        ck = _kids((co,))
        ref = _ftx(_step(ck.get(_CAC + "PartyIdentification", _NONE), T_ID))       # X_CO_REF
        if ref is None:
            continue
        addr = _kids(ck.get(_CAC + "PostalAddress", _NONE))
        orgs[ref] = {
            "company_id": _ftx(_step(ck.get(_CAC + "PartyLegalEntity", _NONE), _CBC + "CompanyID")),
            "name": _ftx(_step(ck.get(_CAC + "PartyName", _NONE), _CBC + "Name")),
            "country": _ftx(_step(addr.get(_CAC + "Country", _NONE), _CBC + "IdentificationCode")),
            "nuts": _ftx(addr.get(_CBC + "CountrySubentityCode", _NONE)),
            "town": _ftx(addr.get(_CBC + "CityName", _NONE)),
            "postcode": _ftx(addr.get(_CBC + "PostalZone", _NONE)),
            "size": _ftx(ck.get(_EFBC + "CompanySizeCode", _NONE)),
            "natural_person": _bool(_ftx(org.iterchildren(_EFBC + "NaturalPersonIndicator"))) is True,
        }
    return orgs


def _extract(root) -> dict[str, list[dict]]:
    """Rows of the five notice tables for one parsed eForms notice."""
    rk = _kids((root,))
    exts = _step(rk.get(_EXT_STEPS[0], _NONE), *_EXT_STEPS[1:])                    # X_EXT
    ext = exts[0] if exts else None
    ek = _kids((ext,)) if ext is not None else {}
    ids = rk.get(T_ID, _NONE)
    notice_id = _ftx(_with(ids, "schemeName", "notice-id")) or _ftx(ids)
    version = _ftx(rk.get(_CBC + "VersionID", _NONE))
    if notice_id is None:
        raise ParseError("notice has no identifier (BT-701 cbc:ID)")
    subtype = _ftx(_step(ek.get(_EFAC + "NoticeSubType", _NONE), _CBC + "SubTypeCode")) \
        if ext is not None else None
    if subtype is None:
        raise ParseError(f"notice {notice_id}: no notice subtype (OPP-070)")
    issue_raw = _ftx(rk.get(_CBC + "IssueDate", _NONE))
    issue = _date(issue_raw)
    if issue is None:
        raise ParseError(f"notice {notice_id}: no valid issue date (BT-05): {issue_raw!r}")
    type_el = rk.get(_CBC + "NoticeTypeCode")
    results_nodes = ek.get(_EFAC + "NoticeResult", _NONE)
    total, total_cur = _amount((_step(results_nodes, _CBC + "TotalAmount") or [None])[0])
    publication = ek.get(_EFAC + "Publication", _NONE)
    key = {"notice_id": notice_id, "notice_version": version}

    notice = {
        **key,
        "sdk_version": _ftx(rk.get(_CBC + "CustomizationID", _NONE)),
        "notice_subtype": subtype,
        "notice_type": _text(type_el[0]) if type_el else None,
        "form_type": type_el[0].get("listName") if type_el else None,
        "legal_basis": _ftx(rk.get(_CBC + "RegulatoryDomain", _NONE)),
        "procedure_id": _ftx(rk.get(_CBC + "ContractFolderID", _NONE)),
        "procedure_type": _ftx(_step(rk.get(_CAC + "TenderingProcess", _NONE), _CBC + "ProcedureCode")),
        "issue_date": issue,
        "publication_date": _date(_ftx(_step(publication, _EFBC + "PublicationDate")))
        if ext is not None else None,
        "publication_number": _ftx(_step(publication, _EFBC + "NoticePublicationID"))
        if ext is not None else None,
        "notice_total_amount": total,
        "notice_total_currency": total_cur,
    }

    orgs = _organisations(ek)
    buyers = []
    for pos, party in enumerate(rk.get(_CAC + "ContractingParty", _NONE), start=1):
        pk = _kids((party,))
        ref = _ftx(_step(pk.get(_CAC + "Party", _NONE), _CAC + "PartyIdentification", T_ID))
        org = orgs.get(ref or "", {})
        company_id = org.get("company_id")
        if _is_personal(company_id):
            company_id = None
        buyers.append({
            **key, "position": pos, "org_ref": ref, "company_id": company_id,
            "org_number": _swedish_number(company_id, org.get("country")),
            "name": org.get("name"), "country": org.get("country"), "nuts": org.get("nuts"),
            "town": org.get("town"), "postcode": org.get("postcode"),
            "legal_type": _ftx(_with(_step(pk.get(_CAC + "ContractingPartyType", _NONE),
                                           _CBC + "PartyTypeCode"), "listName", "buyer-legal-type")),
            "activity": _ftx(_with(_step(pk.get(_CAC + "ContractingActivity", _NONE),
                                         _CBC + "ActivityTypeCode"),
                                   "listName", "authority-activity", "entity-activity")),
        })

    lots = []
    for lot in rk.get(_CAC + "ProcurementProjectLot", _NONE):
        lk = _kids((lot,))
        lot_ids = lk.get(T_ID)
        if not lot_ids or not any(i.get("schemeName") in ("Lot", "Part") for i in lot_ids):
            continue                                                                  # X_LOTS
        id_el = lot_ids[0]
        pp = _kids(lk.get(_CAC + "ProcurementProject", _NONE))
        flags: dict[str, list[str]] = {}
        for code in _step(pp.get(_CAC + "ProcurementAdditionalType", _NONE), _CBC + "ProcurementTypeCode"):
            field = _ADDTYPE_FIELD.get((code.get("listName") or "").strip())
            value = _text(code)
            if field and value:
                flags.setdefault(field, []).append(value)
        green = (flags.get("green") or []) + (flags.get("gpp") or [])
        est, est_cur = _amount((_step(pp.get(_CAC + "RequestedTenderTotal", _NONE),
                                      _CBC + "EstimatedOverallContractAmount") or [None])[0])
        place = _kids(_step(pp.get(_CAC + "RealizedLocation", _NONE), _CAC + "Address"))
        terms = _kids(lk.get(_CAC + "TenderingTerms", _NONE))
        lots.append({
            **key, "lot_id": _text(id_el), "lot_kind": id_el.get("schemeName"),
            "title": _ftx(pp.get(_CBC + "Name", _NONE)),
            "main_cpv": _ftx(_step(pp.get(_CAC + "MainCommodityClassification", _NONE),
                                   _CBC + "ItemClassificationCode")),
            "place_nuts": _ftx(place.get(_CBC + "CountrySubentityCode", _NONE)),
            "place_country": _ftx(_step(place.get(_CAC + "Country", _NONE), _CBC + "IdentificationCode")),
            "reserved_participation": _texts(_alltx(_with(_step(
                terms.get(_CAC + "TendererQualificationRequest", _NONE),
                _CAC + "SpecificTendererRequirement", _CBC + "TendererRequirementTypeCode"),
                "listName", "reserved-procurement"))),
            "reserved_execution": _ftx(_with(_step(
                terms.get(_CAC + "ContractExecutionRequirement", _NONE), _CBC + "ExecutionRequirementCode"),
                "listName", "reserved-execution")),
            "strategic": flags.get("strategic"), "social": flags.get("social"),
            "innovation": flags.get("innovation"), "green": green or None,
            "estimated_value": est, "estimated_currency": est_cur,
        })

    results, awards = [], []
    if ext is not None:
        results, awards = _results(_kids(results_nodes), key, orgs, subtype)
    return {"ted_notice": [notice], "ted_buyer": buyers, "ted_lot": lots,
            "ted_lot_result": results, "ted_award": awards}


def _received(res_kids: dict) -> int | None:
    """X_RES_RECEIVED: StatisticsNumeric of the ReceivedSubmissionsStatistics whose (first)
    StatisticsCode, whitespace-normalised, is 'tenders'."""
    for stat in res_kids.get(_EFAC + "ReceivedSubmissionsStatistics", _NONE):
        code = next(stat.iterchildren(_EFBC + "StatisticsCode"), None)
        if code is None:
            continue
        raw = code.text or "" if not len(code) else code.xpath("string()")
        if _WS.sub(" ", raw).strip(" ") == "tenders":
            value = _ftx(stat.iterchildren(_EFBC + "StatisticsNumeric"))
            if value is not None:
                return _int(value)
    return None


def _results(nk: dict, key: dict, orgs: dict[str, dict], subtype: str) -> tuple[list[dict], list[dict]]:
    """Results and awards of the NoticeResult blocks (``nk``: their children by tag)."""
    tenders: dict[str, dict] = {}
    for ten in nk.get(_EFAC + "LotTender", _NONE):
        tk = _kids((ten,))
        tid = _ftx(tk.get(T_ID, _NONE))
        if tid is None:
            continue
        value, currency = _amount((_step(tk.get(_CAC + "LegalMonetaryTotal", _NONE),
                                         _CBC + "PayableAmount") or [None])[0])
        tenders[tid] = {"value": value, "currency": currency,
                        "tpa": _ftx(_step(tk.get(_EFAC + "TenderingParty", _NONE), T_ID)),
                        "lot": _ftx(_step(tk.get(_EFAC + "TenderLot", _NONE), T_ID))}
    contracts: dict[str, list[str]] = {}
    for con in nk.get(_EFAC + "SettledContract", _NONE):
        ck = _kids((con,))
        cid = _ftx(ck.get(T_ID, _NONE))
        if cid is not None:
            contracts.setdefault(cid, []).extend(
                t.strip() for t in _alltx(_step(ck.get(_EFAC + "LotTender", _NONE), T_ID)) if t.strip())
    parties: dict[str, list[tuple[str, bool | None]]] = {}
    for tpa in nk.get(_EFAC + "TenderingParty", _NONE):
        pk = _kids((tpa,))
        pid = _ftx(pk.get(T_ID, _NONE))
        if pid is None:
            continue
        members = []
        for tenderer in pk.get(_EFAC + "Tenderer", _NONE):
            ref = _ftx(tenderer.iterchildren(T_ID))
            if ref is not None:
                members.append((ref, _bool(_ftx(tenderer.iterchildren(_EFBC + "GroupLeadIndicator")))))
        parties[pid] = members

    results = []
    picks: list[tuple[str | None, str | None, str]] = []     # (result id, lot id, tender id)
    lot_results = nk.get(_EFAC + "LotResult", _NONE)
    for res in lot_results:
        rk = _kids((res,))
        rid = _ftx(rk.get(T_ID, _NONE))
        lot_id = _ftx(_step(rk.get(_EFAC + "TenderLot", _NONE), T_ID))
        status = _ftx(rk.get(_CBC + "TenderResultCode", _NONE))
        results.append({
            **key, "result_id": rid, "lot_id": lot_id, "winner_selection_status": status,
            "tenders_received": _received(rk),
            "non_award_reason": _ftx(_step(rk.get(_EFAC + "DecisionReason", _NONE),
                                           _EFBC + "DecisionReasonCode")),
        })
        if status not in (None, "selec-w"):
            continue          # clos-nw / open-nw: tender references are not winners
        refs = [t.strip() for t in _alltx(_step(rk.get(_EFAC + "LotTender", _NONE), T_ID)) if t.strip()]
        if not refs:
            for cid in _alltx(_step(rk.get(_EFAC + "SettledContract", _NONE), T_ID)):
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
# Legacy TED-XML (R2.0.9 / R2.0.8 namespace, ``Fnn_2014`` forms)

LEGACY_NS = re.compile(r"^http://publications\.europa\.eu/resource/schema/ted/(R2\.0\.[89])/publication$")
NUTS_NS = "http://publications.europa.eu/resource/schema/ted/2016/nuts"

# (form, NOTICE/@TYPE or None) → eForms subtype (OP-TED/ted-xml-data-converter,
# xslt/notice-type-mapping.xml). Forms without a NOTICE element are keyed with None.
LEGACY_SUBTYPES: dict[tuple[str, str | None], str] = {
    ("F01_2014", "PRI_ONLY"): "4", ("F01_2014", "PRI_REDUCING_TIME_LIMITS"): "7",
    ("F01_2014", "PRI_CALL_COMPETITION"): "10",
    ("F02_2014", None): "16", ("F03_2014", None): "29",
    ("F04_2014", "PER_ONLY"): "5", ("F04_2014", "PER_REDUCING_TIME_LIMITS"): "8",
    ("F04_2014", "PER_CALL_COMPETITION"): "11",
    ("F05_2014", None): "17", ("F06_2014", None): "30",
    ("F21_2014", "PRI_ONLY"): "4", ("F21_2014", "PRI_CALL_COMPETITION"): "12",
    ("F21_2014", "CONTRACT"): "20", ("F21_2014", "AWARD_CONTRACT"): "33",
    ("F22_2014", "PER_ONLY"): "5", ("F22_2014", "PER_CALL_COMPETITION"): "13",
    ("F22_2014", "CONTRACT"): "21", ("F22_2014", "AWARD_CONTRACT"): "34",
}
# TD_DOCUMENT_TYPE/@CODE → NOTICE/@TYPE, for forms whose NOTICE element is missing
LEGACY_TD_NOTICE = {"0": {"F01_2014": "PRI_ONLY", "F21_2014": "PRI_ONLY"},
                    "P": {"F04_2014": "PER_ONLY", "F22_2014": "PER_ONLY"},
                    "A": {"F01_2014": "PRI_CALL_COMPETITION", "F21_2014": "PRI_CALL_COMPETITION"},
                    "M": {"F04_2014": "PER_CALL_COMPETITION", "F22_2014": "PER_CALL_COMPETITION"},
                    "3": {"F21_2014": "CONTRACT", "F22_2014": "CONTRACT"},
                    "7": {"F21_2014": "AWARD_CONTRACT", "F22_2014": "AWARD_CONTRACT"}}
# Forms whose subtype depends on the directive, not on a notice type: legal basis (LEGAL_BASIS/@VALUE)
# or, when it is missing, the DIRECTIVE_* element in the form → eForms subtype (same converter table)
LEGACY_BY_DIRECTIVE: dict[str, dict[str, str]] = {
    "F15_2014": {"32014L0024": "25", "DIRECTIVE_2014_24_EU": "25",
                 "32014L0025": "26", "DIRECTIVE_2014_25_EU": "26",
                 "32009L0081": "27", "DIRECTIVE_2009_81_EC": "27",
                 "32014L0023": "28", "DIRECTIVE_2014_23_EU": "28"},
    "F20_2014": {"32014L0024": "38", "32004L0018": "38", "32012R0966": "38", "32018R1046": "38",
                 "DIRECTIVE_2014_24_EU": "38",
                 "32014L0025": "39", "32004L0017": "39", "DIRECTIVE_2014_25_EU": "39",
                 "32014L0023": "40", "DIRECTIVE_2014_23_EU": "40"},
}
# subtype → (BT-02 notice type, BT-03 form type)
SUBTYPE_TYPES = {
    "25": ("veat", "dir-awa-pre"), "26": ("veat", "dir-awa-pre"),
    "27": ("veat", "dir-awa-pre"), "28": ("veat", "dir-awa-pre"),
    "38": ("can-modif", "cont-modif"), "39": ("can-modif", "cont-modif"),
    "40": ("can-modif", "cont-modif"),
    "4": ("pin-only", "planning"), "5": ("pin-only", "planning"),
    "7": ("pin-rtl", "planning"), "8": ("pin-rtl", "planning"),
    "10": ("pin-cfc-standard", "competition"), "11": ("pin-cfc-standard", "competition"),
    "12": ("pin-cfc-social", "competition"), "13": ("pin-cfc-social", "competition"),
    "16": ("cn-standard", "competition"), "17": ("cn-standard", "competition"),
    "20": ("cn-social", "competition"), "21": ("cn-social", "competition"),
    "29": ("can-standard", "result"), "30": ("can-standard", "result"),
    "33": ("can-social", "result"), "34": ("can-social", "result"),
}
LEGACY_FORM_NAMES = {"F07_2014": "qualification system", "F08_2014": "buyer profile",
                     "F12_2014": "design contest", "F13_2014": "design contest result",
                     "F14_2014": "corrigendum", "F15_2014": "voluntary ex-ante transparency",
                     "F20_2014": "contract modification", "F23_2014": "concession award (social)",
                     "F24_2014": "concession notice", "F25_2014": "concession award"}
# CA_TYPE/@VALUE → BT-11 (converter's xslt/ca-types-mapping.xml); CA_TYPE_OTHER (free text) → null
LEGACY_CA_TYPE = {"BODY_PUBLIC": "body-pl", "EU_INSTITUTION": "eu-ins-bod-ag", "MINISTRY": "cga",
                  "NATIONAL_AGENCY": "cga", "REGIONAL_AGENCY": "body-pl-ra",
                  "REGIONAL_AUTHORITY": "ra"}
# CA_ACTIVITY → BT-10 authority-activity; CE_ACTIVITY → BT-610 entity-activity (unknown → null)
LEGACY_ACTIVITY = {
    "GENERAL_PUBLIC_SERVICES": "gen-pub", "DEFENCE": "defence", "PUBLIC_ORDER_AND_SAFETY": "pub-os",
    "ENVIRONMENT": "env-pro", "ECONOMIC_AND_FINANCIAL_AFFAIRS": "econ-aff", "HEALTH": "health",
    "HOUSING_AND_COMMUNITY_AMENITIES": "hc-am", "SOCIAL_PROTECTION": "soc-pro",
    "RECREATION_CULTURE_AND_RELIGION": "rcr", "EDUCATION": "education",
    "WATER": "water", "ELECTRICITY": "electricity", "PORT_RELATED_ACTIVITIES": "port",
    "AIRPORT_RELATED_ACTIVITIES": "airport", "RAILWAY_SERVICES": "rail",
    "URBAN_RAILWAY_TRAMWAY_TROLLEYBUS_OR_BUS_SERVICES": "urttb",
}
# PROCEDURE/PT_* → BT-105 (unknown → null)
LEGACY_PROCEDURE = {
    "PT_OPEN": "open", "PT_RESTRICTED": "restricted", "PT_COMPETITIVE_NEGOTIATION": "neg-w-call",
    "PT_NEGOTIATED_WITH_PRIOR_CALL": "neg-w-call", "PT_COMPETITIVE_DIALOGUE": "comp-dial",
    "PT_INNOVATION_PARTNERSHIP": "innovation", "PT_AWARD_CONTRACT_WITHOUT_CALL": "neg-wo-call",
    "PT_AWARD_CONTRACT_WITHOUT_PUBLICATION": "neg-wo-call",
    "PT_NEGOTIATED_WITHOUT_PUBLICATION": "neg-wo-call",
}
# TED-XML country codes (ISO alpha-2, with TED's UK and NUTS's EL) → alpha-3
ALPHA3 = dict(pair.split(":") for pair in (
    "AT:AUT BE:BEL BG:BGR CY:CYP CZ:CZE DE:DEU DK:DNK EE:EST EL:GRC GR:GRC ES:ESP FI:FIN "
    "FR:FRA HR:HRV HU:HUN IE:IRL IT:ITA LT:LTU LU:LUX LV:LVA MT:MLT NL:NLD PL:POL PT:PRT RO:ROU "
    "SE:SWE SI:SVN SK:SVK IS:ISL LI:LIE NO:NOR CH:CHE UK:GBR GB:GBR AL:ALB BA:BIH ME:MNE MK:MKD "
    "RS:SRB TR:TUR UA:UKR MD:MDA GE:GEO AM:ARM XK:XKX US:USA CA:CAN CN:CHN JP:JPN IN:IND AU:AUS "
    "NZ:NZL IL:ISR KR:KOR SG:SGP ZA:ZAF BR:BRA RU:RUS BY:BLR AE:ARE MA:MAR TN:TUN EG:EGY").split())
_OJS_REF = re.compile(r"(\d{4})\s*/\s*S\s*\d+\s*-\s*0*(\d+)")
_DOC_ID = re.compile(r"^\s*0*(\d{1,8})-(\d{4})\s*$")


def _country3(code: str | None) -> str | None:
    if not code:
        return None
    code = code.strip().upper()
    return code if len(code) == 3 and code.isalpha() else ALPHA3.get(code)


def _ojs_number(raw: str | None) -> tuple[int, int] | None:
    """(year, number) of an OJ S reference (``2019/S 237-581525``) or a DOC_ID (``581525-2019``)."""
    if not raw:
        return None
    m = _OJS_REF.search(raw)
    if m:
        return int(m.group(1)), int(m.group(2))
    m = _DOC_ID.match(raw)
    return (int(m.group(2)), int(m.group(1))) if m else None


def _doc_id(year_number: tuple[int, int]) -> str:
    return f"{year_number[1]:06d}-{year_number[0]}"


def _compact_date(raw: str | None) -> date | None:
    """``20190226`` or ``2019-02-26``."""
    if not raw:
        return None
    raw = raw.strip()
    if len(raw) >= 8 and raw[:8].isdigit():
        raw = f"{raw[:4]}-{raw[4:6]}-{raw[6:8]}"
    return _date(raw)


def _legacy_lot_id(raw: str | None, position: int, single: bool) -> str:
    if raw is None or not raw.strip():
        return "LOT-0000" if single else f"LOT-{position:04d}"
    raw = raw.strip()
    return f"LOT-{int(raw):04d}" if raw.isdigit() and len(raw) <= 4 else raw


class _LegacyPaths:
    """XPaths of the TED-XML forms for one publication namespace, compiled once."""

    def __init__(self, ns: str):
        nsmap = {"t": ns, "n": NUTS_NS}

        def x(path: str) -> etree.XPath:
            return etree.XPath(path, namespaces=nsmap)

        self.date_pub = x("t:CODED_DATA_SECTION/t:REF_OJS/t:DATE_PUB/text()")
        self.dispatch_coded = x("t:CODED_DATA_SECTION/t:CODIF_DATA/t:DS_DATE_DISPATCH/text()")
        self.td_code = x("t:CODED_DATA_SECTION/t:CODIF_DATA/t:TD_DOCUMENT_TYPE/@CODE")
        self.ref_notices = x("t:CODED_DATA_SECTION/t:NOTICE_DATA/t:REF_NOTICE/t:NO_DOC_OJS/text()")
        self.forms = x("t:FORM_SECTION/*")
        self.legal = x("t:LEGAL_BASIS/@VALUE")
        self.notice_type = x("t:NOTICE/@TYPE")
        self.bodies = x("t:CONTRACTING_BODY/t:ADDRESS_CONTRACTING_BODY"
                        " | t:CONTRACTING_BODY/t:ADDRESS_CONTRACTING_BODY_ADDITIONAL")
        self.ca_type = x("t:CONTRACTING_BODY/t:CA_TYPE/@VALUE")
        self.activity = x("t:CONTRACTING_BODY/t:CA_ACTIVITY/@VALUE | t:CONTRACTING_BODY/t:CE_ACTIVITY/@VALUE")
        self.name = x("t:OFFICIALNAME/text()")
        self.national_id = x("t:NATIONALID/text()")
        self.town = x("t:TOWN/text()")
        self.postcode = x("t:POSTAL_CODE/text()")
        self.country = x("t:COUNTRY/@VALUE")
        self.nuts = x("*[local-name()='NUTS']/@CODE")      # 2016 or 2021 NUTS namespace
        self.directive = x(".//*[starts-with(local-name(), 'DIRECTIVE_')]")
        self.objects = x("t:OBJECT_CONTRACT")
        self.object_cpv = x("t:CPV_MAIN/t:CPV_CODE/@CODE")
        self.object_title = x("t:TITLE//text()")
        self.object_estimate = x("t:VAL_ESTIMATED_TOTAL")
        self.lots = x("t:OBJECT_DESCR")
        self.lot_no = x("t:LOT_NO/text()")
        self.lot_cpv = x("t:CPV_MAIN/t:CPV_CODE/@CODE")
        self.lot_estimate = x("t:VAL_OBJECT")
        self.lefti = x("t:LEFTI")
        self.sheltered_ws = x("t:RESTRICTED_SHELTERED_WORKSHOP")
        self.sheltered_prog = x("t:RESTRICTED_SHELTERED_PROGRAM")
        self.service_mission = x("t:RESERVED_ORGANISATIONS_SERVICE_MISSION")
        # PT_* directly under PROCEDURE, or (F15) inside its DIRECTIVE_* element
        self.procedure = x("t:PROCEDURE/* | t:PROCEDURE/*[starts-with(local-name(), 'DIRECTIVE_')]/*")
        self.previous = x("t:PROCEDURE/t:NOTICE_NUMBER_OJ/text()")
        self.dispatch_form = x("t:COMPLEMENTARY_INFO/t:DATE_DISPATCH_NOTICE/text()")
        self.awards = x("t:AWARD_CONTRACT")
        self.awarded = x("t:AWARDED_CONTRACT")
        self.not_awarded = x("t:NO_AWARDED_CONTRACT")
        self.received = x(".//t:NB_TENDERS_RECEIVED/text()")
        self.contractors = x(".//t:CONTRACTOR")
        self.contractor_address = x("t:ADDRESS_CONTRACTOR")
        self.sme = x("t:SME")
        self.value = x(".//t:VALUES/t:VAL_TOTAL | t:VAL_TOTAL")


_LEGACY_PATHS: dict[str, _LegacyPaths] = {}


def _legacy_amount(el) -> tuple[Decimal | None, str | None]:
    if el is None:
        return None, None
    value, _ = _amount(el)
    return value, (el.get("CURRENCY") or "").strip().upper() or None


def _extract_legacy(root, ns: str | None) -> dict[str, list[dict]]:
    """Rows of the five notice tables for one TED-XML notice (see the module docstring)."""
    m = LEGACY_NS.match(ns or "")
    if m is None:
        raise ParseError(f"TED-XML in an unknown namespace: {ns!r}")
    version = m.group(1)
    x = _LEGACY_PATHS.get(ns) or _LEGACY_PATHS.setdefault(ns, _LegacyPaths(ns))
    doc = _ojs_number(root.get("DOC_ID"))
    if doc is None:
        raise ParseError(f"TED-XML notice without a valid DOC_ID: {root.get('DOC_ID')!r}")
    notice_id = _doc_id(doc)
    forms = x.forms(root)
    if not forms:
        raise ParseError(f"TED-XML notice {notice_id}: no form in FORM_SECTION")
    form = next((f for f in forms if f.get("CATEGORY") == "ORIGINAL"), forms[0])
    form_name = etree.QName(form).localname
    td = _first(x.td_code(root))
    ntype = _first(x.notice_type(form))
    if ntype is None:
        ntype = LEGACY_TD_NOTICE.get(td or "", {}).get(form_name)
    subtype = LEGACY_SUBTYPES.get((form_name, ntype)) or LEGACY_SUBTYPES.get((form_name, None))
    if subtype is None and form_name in LEGACY_BY_DIRECTIVE:
        by_directive = LEGACY_BY_DIRECTIVE[form_name]
        directive = next((etree.QName(d).localname for d in x.directive(form)), None)
        subtype = by_directive.get(_first(x.legal(form)) or "") or by_directive.get(directive or "")
        ntype = ntype or _first(x.legal(form)) or directive
    if subtype is None:
        what = LEGACY_FORM_NAMES.get(form_name, "form")
        raise ParseError(f"TED-XML notice {notice_id}: {what} {form_name}"
                         f"{f' ({ntype})' if ntype else ''} is not modelled")
    notice_type, form_type = SUBTYPE_TYPES[subtype]
    published = _compact_date(_first(x.date_pub(root)))
    issued = (_compact_date(_first(x.dispatch_form(form))) or _compact_date(_first(x.dispatch_coded(root)))
              or published)
    if issued is None:
        raise ParseError(f"TED-XML notice {notice_id}: no dispatch or publication date")
    refs = [r for r in (_ojs_number(t) for t in x.ref_notices(root) + x.previous(form)) if r]
    refs = [r for r in refs if r != doc]
    procedure_type = None
    for el in x.procedure(form):
        procedure_type = LEGACY_PROCEDURE.get(etree.QName(el).localname)
        if procedure_type:
            break
    key = {"notice_id": notice_id, "notice_version": "1"}
    notice = {
        **key, "sdk_version": version, "notice_subtype": subtype, "notice_type": notice_type,
        "form_type": form_type, "legal_basis": _first(x.legal(form)),
        "procedure_id": _doc_id(min(refs)) if refs else notice_id,
        "procedure_type": procedure_type, "issue_date": issued, "publication_date": published,
        "publication_number": notice_id, "notice_total_amount": None, "notice_total_currency": None,
    }

    legal_type = LEGACY_CA_TYPE.get(_first(x.ca_type(form)) or "")
    activity = LEGACY_ACTIVITY.get(_first(x.activity(form)) or "")
    buyers = []
    for pos, body in enumerate(x.bodies(form), start=1):
        country = _country3(_first(x.country(body)))
        company_id = _first(x.national_id(body))
        if _is_personal(company_id):
            company_id = None
        buyers.append({
            **key, "position": pos, "org_ref": f"ORG-{pos:04d}", "company_id": company_id,
            "org_number": _swedish_number(company_id, country), "name": _first(x.name(body)),
            "country": country, "nuts": _first(x.nuts(body)), "town": _first(x.town(body)),
            "postcode": _first(x.postcode(body)), "legal_type": legal_type, "activity": activity,
        })

    stated = form_type != "result" and bool(x.lefti(form))
    participation = execution = None
    if stated:
        lefti = x.lefti(form)[0]
        participation = ((["res-ws"] if x.sheltered_ws(lefti) else [])
                         + (["res-pub-ser"] if x.service_mission(lefti) else [])) or ["none"]
        execution = "yes" if x.sheltered_prog(lefti) else "no"
    lots = []
    descrs = [(obj, d) for obj in x.objects(form) for d in x.lots(obj)]
    for position, (obj, d) in enumerate(descrs, start=1):
        est, est_cur = _legacy_amount((x.lot_estimate(d) or [None])[0])
        if est is None and len(descrs) == 1:
            est, est_cur = _legacy_amount((x.object_estimate(obj) or [None])[0])
        nuts = _first(x.nuts(d))
        title = " ".join(t.strip() for t in x.object_title(d) if t.strip()) or \
            " ".join(t.strip() for t in x.object_title(obj) if t.strip()) or None
        lots.append({
            **key, "lot_id": _legacy_lot_id(_first(x.lot_no(d)), position, len(descrs) == 1),
            "lot_kind": "Lot", "title": title,
            "main_cpv": _first(x.lot_cpv(d)) or _first(x.object_cpv(obj)),
            "place_nuts": nuts, "place_country": _country3(nuts[:2]) if nuts else None,
            "reserved_participation": list(participation) if participation else None,
            "reserved_execution": execution,
            "strategic": None, "social": None, "innovation": None, "green": None,
            "estimated_value": est, "estimated_currency": est_cur,
        })

    results, awards = [], []
    # a modification (F20) repeats the award it changes: as in eForms (subtypes 38–40), no award rows
    award_els = [] if form_type == "cont-modif" else x.awards(form)
    n_org = len(buyers)
    for position, aw in enumerate(award_els, start=1):
        item = (aw.get("ITEM") or "").strip()
        item_no = int(item) if item.isdigit() else position
        rid, tid, tpa = f"RES-{item_no:04d}", f"TEN-{item_no:04d}", f"TPA-{item_no:04d}"
        lot_id = _legacy_lot_id(_first(x.lot_no(aw)), position, len(award_els) == 1)
        awarded = x.awarded(aw)
        status = "selec-w" if awarded else "clos-nw" if x.not_awarded(aw) else None
        block = awarded[0] if awarded else aw
        results.append({**key, "result_id": rid, "lot_id": lot_id,
                        "winner_selection_status": status,
                        "tenders_received": _int(_first(x.received(block))) if awarded else None,
                        "non_award_reason": None})
        if status != "selec-w":
            continue
        value, currency = _legacy_amount((x.value(block) or [None])[0])
        contractors = x.contractors(block)
        for contractor in contractors:
            n_org += 1
            addr = (x.contractor_address(contractor) or [contractor])[0]
            country = _country3(_first(x.country(addr)))
            company_id, name = _first(x.national_id(addr)), _first(x.name(addr))
            if _is_personal(company_id):
                company_id = name = None        # personal data never leaves this function
            awards.append({
                **key, "result_id": rid, "lot_id": lot_id, "tender_id": tid,
                "tendering_party_id": tpa, "winner_org_ref": f"ORG-{n_org:04d}",
                "winner_company_id": company_id,
                "winner_org_number": _swedish_number(company_id, country),
                "winner_name": name, "winner_country": country,
                "winner_size": "sme" if x.sme(contractor) else None, "group_lead": None,
                "group_size": len(contractors), "tender_value": value, "tender_currency": currency,
            })
    return {"ted_notice": [notice], "ted_buyer": buyers, "ted_lot": lots,
            "ted_lot_result": results, "ted_award": awards}


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
        yield "ok", name, _read(data)
        return
    for member, body in members:
        if isinstance(body, str):
            yield "bad", member, body
            continue
        try:
            rows = _read(body)
        except ParseError as exc:
            yield "bad", member, str(exc)
            continue
        yield "ok", member, rows


_EMPTY: dict[str, pl.DataFrame] = {}
_SMALL = 64          # below this many rows, one row-wise construction beats one Series per column


def _frame(table: str, rows: list[dict]) -> pl.DataFrame:
    """One typed frame from plain row dicts (built once per parse / chunk, never per notice of a
    package)."""
    schema = SCHEMAS[table]
    if not rows:      # most notices leave some tables empty: copy a cached empty frame (cheap)
        if table not in _EMPTY:
            _EMPTY[table] = pl.DataFrame({c: [] for c in schema}, schema=schema)
        return _EMPTY[table].clear()
    if len(rows) < _SMALL:
        return pl.DataFrame([tuple(r[c] for c in schema) for r in rows], schema=schema, orient="row")
    return pl.DataFrame({c: [r[c] for r in rows] for c in schema}, schema=schema)


def empty_frames() -> dict[str, pl.DataFrame]:
    return {t: _frame(t, []) for t in SCHEMAS}


def _collect(rows: dict[str, list[dict]], data: bytes, name: str) -> None:
    """Add the rows of one notice or package to ``rows`` (table → row dicts)."""
    for status, member, payload in _notices(data, name):
        if status == "ok":
            for table in NOTICE_TABLES:
                rows[table].extend(payload[table])
        else:
            rows["ted_rejected"].append({"member": member, "reason": payload})


def parse(data: bytes, name: str) -> dict[str, pl.DataFrame]:
    """Tables of one eForms notice XML or of a zip / tar.gz package of notices. The rows of every
    notice are collected as plain Python values and each table is built once, at the end."""
    rows: dict[str, list[dict]] = {t: [] for t in SCHEMAS}
    _collect(rows, data, name)
    return {t: _frame(t, rows[t]) for t in SCHEMAS}


def _item(item) -> tuple[bytes, str]:
    """(bytes, name) of a ``parse_many`` input: a path, raw bytes, or a (name, bytes) pair."""
    if isinstance(item, (bytes, bytearray, memoryview)):
        return bytes(item), "notice.xml"
    if isinstance(item, tuple):
        name, data = item
        return bytes(data), str(name)
    path = Path(item)
    return path.read_bytes(), path.name


def _parse_chunk(items: list, on_error: str) -> dict[str, pl.DataFrame]:
    rows: dict[str, list[dict]] = {t: [] for t in SCHEMAS}
    for item in items:
        data, name = _item(item)
        try:
            _collect(rows, data, name)
        except ParseError as exc:
            if on_error == "raise":
                raise ParseError(f"{name}: {exc}") from None
            rows["ted_rejected"].append({"member": name, "reason": str(exc)})
    return {t: _frame(t, rows[t]) for t in SCHEMAS}


def parse_many(items, workers: int = 1, chunk: int | None = None, on_error: str = "raise",
               executor=None) -> dict[str, pl.DataFrame]:
    """Tables of many notices and/or packages at once, optionally on several cores.

    ``items``: file paths, raw bytes, or (name, bytes) pairs; each may be one notice XML or a zip
    / tar.gz package. The result equals ``parse`` of every item with the frames concatenated in
    input order (notices of a package in member order). Rows are collected as plain Python values
    and every table is built once per chunk of ``chunk`` items, not per notice.

    ``workers`` > 1 reads chunks in a ``ProcessPoolExecutor`` (spawned processes: polars' thread
    pool does not survive a fork) and concatenates their frames in input order; pass a running
    ``executor`` to reuse its workers (starting one costs ~1 s per process). With paths, each
    worker reads its own files, so only paths and frames cross process boundaries.

    ``on_error``: "raise" (default) raises ``ParseError`` naming the item for a single notice that
    cannot be read, as ``parse`` does; "reject" records it in ``ted_rejected`` (member = item name)
    and goes on. Unreadable members of a package are always recorded in ``ted_rejected``."""
    if on_error not in ("raise", "reject"):
        raise ValueError("on_error must be 'raise' or 'reject'")
    items = list(items)
    if not items:
        return empty_frames()
    if workers <= 1 and executor is None:
        return _parse_chunk(items, on_error)
    if chunk is None:        # a few chunks per worker, so a slow chunk does not idle the others
        chunk = max(1, min(1000, -(-len(items) // (max(workers, 1) * 4))))
    chunks = [items[i:i + chunk] for i in range(0, len(items), chunk)]
    own = executor is None
    if own:
        executor = ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("spawn"))
    try:
        parts = list(executor.map(_parse_chunk, chunks, [on_error] * len(chunks)))
    finally:
        if own:
            executor.shutdown()
    return {t: pl.concat([p[t] for p in parts], rechunk=False) for t in SCHEMAS}


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


def _looks_like_html(resp: requests.Response, by_header: bool = True) -> bool:
    """An HTML page (an error or challenge page served with 200). Notice XML is judged by its
    bytes only: a wrong Content-Type on a real notice must not lose it."""
    ctype = (resp.headers.get("Content-Type") or "").lower()
    head = resp.content[:512].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    return (by_header and "text/html" in ctype) or head.startswith((b"<!doctype html", b"<html"))


def _search_page(session: requests.Session, url: str, body: dict, page_no: int) -> dict:
    """One search page; a ``timedOut`` page is asked for once more, then the query is refused."""
    for attempt in (1, 2):
        resp = request(SOURCE_ID, "POST", url, session=session, json=body,
                       headers={"Accept": "application/json"})
        if _looks_like_html(resp):
            raise ParseError(f"{url}: HTML page instead of JSON (HTTP {resp.status_code})")
        try:
            page = resp.json()
        except ValueError:
            raise ParseError(f"{url}: response is not JSON (HTTP {resp.status_code})") from None
        if not isinstance(page, dict):
            raise ParseError(f"{url}: unexpected JSON response (not an object)")
        if not page.get("timedOut"):
            return page
        if attempt == 1:
            time.sleep(RETRY_TIMED_OUT_SECONDS)
    raise ParseError(f"search timed out twice on page {page_no} for query {body['query']!r}; "
                     "narrow it (a later --since)")


def fetch(ctx: FetchContext) -> list[Fetched]:
    """Search Swedish notices published since ``ctx.since`` (default: the last 3 days, the nightly
    increment; an earlier ``since`` backfills) and download each notice's XML.

    Resumable: a notice whose ``<publication number>.xml`` is already stored
    (``ctx.known_names``) is not downloaded again. Paging (ITERATION mode) stops at an empty page,
    a missing token, or once ``totalNoticeCount`` distinct notices have been seen."""
    base = (ctx.base_url or DEFAULT_BASE).rstrip("/")
    since = ctx.since or (date.today() - timedelta(days=3))
    session = requests.Session()
    first = search_body(since)
    query = json.dumps(first, sort_keys=True)
    links: dict[str, str] = {}
    token = None
    for page_no in range(1, MAX_PAGES + 1):
        page = _search_page(session, base + SEARCH_PATH, search_body(since, token), page_no)
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
        total = page.get("totalNoticeCount")
        token = page.get("iterationNextToken")
        if not token or (isinstance(total, int) and len(links) >= total):
            break
    out = []
    for number, link in links.items():
        name = f"{number}.xml"
        if name in ctx.known_names:
            continue                      # stored by an earlier (possibly interrupted) run
        url = _rebase(link, ctx.base_url)
        resp = request(SOURCE_ID, "GET", url, session=session,
                       headers={"Accept": "application/xml"})
        if _looks_like_html(resp, by_header=False):
            raise ParseError(f"{url}: HTML page instead of notice XML (HTTP {resp.status_code})")
        out.append(Fetched(resp.content, "xml", url=url, query=query,
                           http_status=resp.status_code, name=name))
    return out
