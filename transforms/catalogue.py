"""The indicator catalogue (DESIGN §5), in one place; stored as ``marts.indicator``."""
from __future__ import annotations

from dataclasses import asdict, dataclass

TED_CAVEAT_SV = ("Endast upphandlingar publicerade i TED (över EU:s tröskelvärden); de flesta mindre och "
                 "reserverade upphandlingar syns inte här.")
TED_CAVEAT_EN = ("Only procedures published in TED (above the EU thresholds); most small and reserved "
                 "contracts are not here.")
FLAG_CAVEAT_EN = "Optional flags: absence means 'not stated', not 'no'; see coverage."
UHM_CAVEAT_EN = ("Every procurement advertised in a registered notice database (from 2021); direct awards "
                 "are not advertised and not here. The database lacks the social flag for most procurements.")


@dataclass(frozen=True)
class Indicator:
    id: str
    family: str              # labour | procurement | organisations
    theme: str               # social_procurement | sector_collaboration | social_economy | labour_market
    name_sv: str
    name_en: str
    definition_en: str
    numerator: str
    denominator: str
    unit: str                # percent | SEK | count
    kind: str                # share_count | share_value | sum_value | rate
    min_n: int
    sources: str
    coverage_note: str
    caveats: str
    sdg_target: str
    period: str = "year"     # year | month
    base: str | None = None  # another reading of this indicator's records (yes/stated of a yes/all share)


CATALOGUE: list[Indicator] = [
    Indicator("sp_reserved_share", "procurement", "social_procurement",
              "Andel reserverade upphandlingar (av TED-publicerade)", "Reserved procedures (share of TED-published)",
              "Procedures with a competition notice where at least one lot is reserved (BT-71 res-ws or "
              "res-pub-ser) or has reserved execution (BT-736 yes).",
              "reserved procedures", "procedures with a competition notice", "percent", "share_count", 5,
              "ted", "coverage = share of procedures where BT-71/BT-736 was stated",
              TED_CAVEAT_EN, "8.5, 12.7"),
    Indicator("sp_social_share", "procurement", "social_procurement",
              "Andel upphandlingar med sociala hänsyn (av TED-publicerade)", "Procedures with social considerations (share of TED-published)",
              "Procedures with a social consideration in any lot (BT-06 soc-obj or any BT-775 code).",
              "procedures with social considerations", "procedures with a competition notice", "percent",
              "share_count", 5, "ted", "coverage = share where BT-06 or BT-775 was stated; series start with eForms (Oct 2023)",
              TED_CAVEAT_EN + " " + FLAG_CAVEAT_EN, "12.7"),
    Indicator("sp_innovation_share", "procurement", "social_procurement",
              "Andel innovationsupphandlingar (av TED-publicerade)", "Innovation procurement (share of TED-published)",
              "Procedures with innovation procurement (BT-06 inn-pur or any BT-776 code).",
              "procedures with innovation procurement", "procedures with a competition notice", "percent",
              "share_count", 5, "ted", "coverage = share where BT-06 or BT-776 was stated",
              TED_CAVEAT_EN + " " + FLAG_CAVEAT_EN, "9.5, 12.7"),
    Indicator("sp_green_share", "procurement", "social_procurement",
              "Andel upphandlingar med miljöhänsyn (av TED-publicerade)", "Green procurement (share of TED-published)",
              "Procedures with green procurement (BT-06 env-imp, any BT-774 code or a BT-805 code other than none).",
              "procedures with green procurement", "procedures with a competition notice", "percent",
              "share_count", 5, "ted", "coverage = share where BT-06, BT-774 or BT-805 was stated",
              TED_CAVEAT_EN + " " + FLAG_CAVEAT_EN, "12.7"),
    *[Indicator(f"{base}_of_stated", "procurement", "social_procurement", f"{sv} — andel av dem som angett uppgiften",
                f"{en} — share of procedures that stated it",
                f"Procedures with {what} among the procedures whose notices stated the field ({fields}).",
                f"procedures with {what}", f"procedures stating {fields}", "percent", "share_stated", 5, "ted",
                "n = procedures that stated the field; read together with the headline (yes of all) and coverage",
                TED_CAVEAT_EN + " " + FLAG_CAVEAT_EN, "12.7", base=base)
      for base, sv, en, what, fields in (
          ("sp_social_share", "Sociala hänsyn", "Social considerations", "social considerations", "BT-06 or BT-775"),
          ("sp_innovation_share", "Innovationsupphandling", "Innovation procurement", "innovation procurement",
           "BT-06 or BT-776"),
          ("sp_green_share", "Miljöhänsyn", "Green procurement", "green procurement", "BT-06, BT-774 or BT-805"))],
    *[Indicator(f"{short}_share_all", "procurement", "social_procurement",
                f"{sv} (alla annonserade upphandlingar)", f"{en} (all advertised procurements)",
                f"Procurements advertised in Sweden (Upphandlingsmyndigheten's statistics database, above and "
                f"below the EU thresholds) {what}, among all of the region's advertised procurements.",
                f"procurements {what}", "advertised procurements", "percent", "share_count", 5, "uhm-db",
                "coverage = share of procurements where the database has the information; buyers placed by "
                "register or name (municipal companies only through the curated buyer table)",
                UHM_CAVEAT_EN, sdg)
      for short, sv, en, what, sdg in (
          ("sp_reserved", "Andel reserverade upphandlingar", "Reserved procurements",
           "whose participation or performance was reserved", "8.5, 12.7"),
          ("sp_social", "Andel socialt hållbara upphandlingar", "Socially sustainable procurements",
           "with social requirements (socialt hållbar upphandling)", "12.7"))],
    Indicator("sp_single_bidder_share", "procurement", "social_procurement",
              "Andel tilldelade delkontrakt med endast ett anbud", "Awarded lots with a single tender",
              "Awarded lots that received exactly one tender (BT-759 for BT-760 'tenders').",
              "awarded lots with one tender", "awarded lots", "percent", "share_count", 5, "ted",
              "coverage = share of awarded lots where the number of tenders was stated",
              TED_CAVEAT_EN, "16.6"),
    Indicator("sc_ideburen_award_share_lots", "procurement", "sector_collaboration",
              "Andel tilldelade delkontrakt till idéburna organisationer", "Awarded lots won by idea-based organisations",
              "Awarded lots where a winner is an idea-based organisation (civil-society legal form, Kammarkollegiet's "
              "register or a known work-integration social enterprise).",
              "awarded lots won by idea-based organisations", "awarded lots", "percent", "share_count", 5,
              "ted, bolagsverket, scb-register, ideburen, wise",
              "coverage = share of awarded lots whose winners all matched an organisation by org number",
              TED_CAVEAT_EN + " Winners classified as the registers said on the award date (history from the "
              "first register snapshot loaded).", "17.17"),
    Indicator("sc_social_economy_award_share_lots", "procurement", "sector_collaboration",
              "Andel tilldelade delkontrakt till den sociala ekonomin", "Awarded lots won by the social economy",
              "Awarded lots where a winner is idea-based or a cooperative (ekonomisk förening, europakooperativ).",
              "awarded lots won by idea-based organisations or cooperatives", "awarded lots", "percent",
              "share_count", 5, "ted, bolagsverket, scb-register, ideburen, wise",
              "coverage = share of awarded lots whose winners all matched an organisation",
              TED_CAVEAT_EN, "17.17"),
    Indicator("sc_sme_award_share_lots", "procurement", "sector_collaboration",
              "Andel tilldelade delkontrakt till små och medelstora företag", "Awarded lots won by SMEs",
              "Awarded lots where a winner is micro, small or medium (BT-165).",
              "awarded lots won by SMEs", "awarded lots", "percent", "share_count", 5, "ted",
              "coverage = share of awarded lots where every winner's size was stated", TED_CAVEAT_EN, "8.3"),
    Indicator("sc_ideburen_award_share_value", "procurement", "sector_collaboration",
              "Andel av tilldelat värde (SEK) till idéburna organisationer", "Awarded SEK value won by idea-based organisations",
              "SEK value of awarded lots won by idea-based organisations over all SEK-valued awarded lots; a consortium's "
              "tender value counted once; amounts in other currencies excluded.",
              "SEK awarded to idea-based organisations", "SEK awarded", "percent", "share_value", 5,
              "ted, bolagsverket, scb-register, ideburen, wise",
              "coverage = share of awarded lots with a SEK value and matched winners",
              TED_CAVEAT_EN + " Framework values are ceilings, not spend.", "17.17"),
    Indicator("sc_social_economy_award_share_value", "procurement", "sector_collaboration",
              "Andel av tilldelat värde (SEK) till den sociala ekonomin", "Awarded SEK value won by the social economy",
              "SEK value of awarded lots won by idea-based organisations or cooperatives over all SEK-valued awarded "
              "lots; a consortium's tender value counted once.",
              "SEK awarded to idea-based organisations or cooperatives", "SEK awarded", "percent", "share_value", 5,
              "ted, bolagsverket, scb-register, ideburen, wise",
              "coverage = share of awarded lots with a SEK value and matched winners",
              TED_CAVEAT_EN + " Framework values are ceilings, not spend.", "17.17"),
    Indicator("sc_public_civil_contracts", "procurement", "sector_collaboration",
              "Offentliga köpare × idéburna leverantörer med kontrakt", "Public buyer × idea-based supplier pairs",
              "Distinct pairs of a public buyer and an idea-based supplier with an award in the year, counted where "
              "the buyer is.", "pairs", "—", "count", "count_records", 0, "ted, bolagsverket, scb-register, ideburen",
              "n = pairs", TED_CAVEAT_EN + " A trade link, not the whole of 'samverkan' (IOP and grants are not here).",
              "17.17"),
    Indicator("sc_iop_agreements", "organisations", "sector_collaboration",
              "Idéburet-offentliga partnerskap (IOP) i kraft", "IOP agreements in force",
              "IOP agreements in force at some time during the year, from the curated list.", "agreements", "—",
              "count", "count", 0, "iop",
              "coverage = share of the region's municipalities the curated list covers; NULL where it covers none",
              "Only as complete as the curated list.", "17.17"),
    Indicator("sc_reserved_award_value", "procurement", "sector_collaboration",
              "Tilldelat värde (SEK) i reserverade upphandlingar", "SEK awarded in reserved procedures",
              "Sum of SEK tender values of awarded lots in procedures whose competition notice reserved participation or execution.",
              "SEK awarded in reserved procedures", "—", "SEK", "sum_value", 5, "ted",
              "n = awarded lots with a SEK value", TED_CAVEAT_EN + " Framework values are ceilings, not spend.", "8.5"),
    Indicator("se_ideburen_density", "organisations", "social_economy",
              "Idéburna och kooperativa registreringar per 10 000 invånare 20–64 år",
              "Idea-based and cooperative registrations per 10,000 inhabitants aged 20–64",
              "Ideella föreningar and stiftelser with business activity, ekonomiska föreningar and europakooperativ "
              "registered with Bolagsverket at the last reported month of the year, per 10,000 inhabitants aged "
              "20–64 (SCB BAS population at the latest published month of that year).",
              "registered organisations (I, S, EK, SCE)", "population 20–64 / 10 000", "per 10 000", "density", 0,
              "ftgstat, pxweb",
              "most ideella föreningar register with Skatteverket, not Bolagsverket: they are not counted here",
              "Registered is not active. The current year is preliminary.", "17.17"),
    Indicator("se_new_cooperatives", "organisations", "social_economy",
              "Nyregistrerade ekonomiska föreningar", "Newly registered cooperatives",
              "Ekonomiska föreningar and europakooperativ newly registered with Bolagsverket during the year.",
              "new registrations (EK, SCE)", "—", "count", "count", 0, "ftgstat",
              "Bolagsverket's registration statistics per kommun", "The current year is preliminary.", "8.3"),
    Indicator("lm_unemployment_rate", "labour", "labour_market",
              "Arbetslöshet 20–64 år", "Unemployment rate, 20–64",
              "Unemployed share of the labour force (employed + unemployed) aged 20–64, register-based (SCB BAS).",
              "unemployed 20–64", "labour force 20–64", "percent", "rate", 0, "pxweb",
              "preliminary monthly BAS figures; county and country from SCB's published totals",
              "Register-based; small cells perturbed by SCB from 2025.", "8.5", "month"),
    Indicator("lm_youth_unemployment_rate", "labour", "labour_market",
              "Arbetslöshet 20–24 år", "Youth unemployment rate, 20–24",
              "Unemployed share of the labour force aged 20–24 (SCB BAS).",
              "unemployed 20–24", "labour force 20–24", "percent", "rate", 0, "pxweb",
              "preliminary monthly BAS figures", "Small municipalities: cells may be suppressed (..).", "8.6", "month"),
    Indicator("lm_employment_rate", "labour", "labour_market",
              "Sysselsättningsgrad 20–64 år", "Employment rate, 20–64",
              "Employed share of the population aged 20–64 (SCB BAS).",
              "employed 20–64", "population 20–64", "percent", "rate", 0, "pxweb",
              "preliminary monthly BAS figures", "Register-based.", "8.5", "month"),
    Indicator("lm_registered_unemployment_rate", "labour", "labour_market",
              "Inskrivna arbetslösa, andel av registerbaserad arbetskraft", "Registered unemployment rate",
              "Registered unemployed (openly unemployed + in programmes with activity support) as a share of the "
              "registered labour force, as Arbetsförmedlingen publishes both per kommun and month.",
              "registered unemployed", "registered labour force", "percent", "rate", 0, "af",
              "Arbetsförmedlingen's monthly statistics; the age range changed from 16–64 to 16–65 in 2023 (series break)",
              "Arbetsförmedlingen divides by a 12-month average of SCB's BAS labour force; we use the registered "
              "labour force printed in the same file. Not SCB's official unemployment.", "8.5", "month"),
    Indicator("lm_long_term_unemployed_count", "labour", "labour_market",
              "Långtidsarbetslösa (mer än 12 månader utan arbete)", "Long-term unemployed (over 12 months)",
              "Registered unemployed without work for more than 12 months (Arbetsförmedlingen).",
              "registered unemployed > 12 months", "—", "count", "count", 0, "af",
              "Arbetsförmedlingen masks counts below 5 ('<5'): shown as suppressed",
              "Series break in 2023 (age range 16–64 → 16–65).", "8.5", "month"),
    Indicator("lm_long_term_unemployed_share", "labour", "labour_market",
              "Långtidsarbetslösa, andel av inskrivna arbetslösa", "Long-term unemployed, share of registered unemployed",
              "Registered unemployed > 12 months as a share of all registered unemployed (Arbetsförmedlingen).",
              "registered unemployed > 12 months", "registered unemployed", "percent", "rate", 0, "af",
              "Arbetsförmedlingen's monthly statistics",
              "Series break in 2023 (age range 16–64 → 16–65).", "8.5", "month"),
]

TED_SV = "Endast upphandlingar publicerade i TED (över EU:s tröskelvärden)."
UHM_SV = ("Alla upphandlingar som annonserats i en registrerad annonsdatabas (från 2021); direktupphandlingar "
          "annonseras inte och finns inte här. Kommunala bolag placeras bara via den egna köparlistan.")
FLAG_SV = "Uppgiften är frivillig i annonsen: saknas den betyder det 'ej angivet', inte 'nej' (se täckning)."

# Swedish definition and caveat of every indicator (what stakeholders read by default)
SWEDISH: dict[str, tuple[str, str]] = {
    "sp_reserved_share": ("Andel upphandlingar med konkurrensutsättande annons där minst ett delkontrakt är reserverat "
                          "(BT-71 res-ws eller res-pub-ser) eller ska utföras inom skyddad anställning (BT-736).", TED_SV),
    "sp_social_share": ("Andel upphandlingar med sociala hänsyn i något delkontrakt (BT-06 soc-obj eller någon kod i BT-775).",
                        TED_SV + " " + FLAG_SV + " Serien börjar med eForms (oktober 2023)."),
    "sp_innovation_share": ("Andel upphandlingar som är innovationsupphandlingar (BT-06 inn-pur eller någon kod i BT-776).",
                            TED_SV + " " + FLAG_SV),
    "sp_green_share": ("Andel upphandlingar med miljöhänsyn (BT-06 env-imp, BT-774 eller BT-805).", TED_SV + " " + FLAG_SV),
    "sp_reserved_share_all": ("Andel av alla annonserade upphandlingar (över och under EU:s tröskelvärden, "
                              "Upphandlingsmyndighetens statistikdatabas) där deltagandet eller genomförandet var "
                              "reserverat.", UHM_SV),
    "sp_social_share_all": ("Andel av alla annonserade upphandlingar (Upphandlingsmyndighetens statistikdatabas) "
                            "som är socialt hållbara upphandlingar, dvs. har krav som syftar till sociala mål.",
                            UHM_SV + " Uppgiften saknas för de flesta upphandlingar (se täckning)."),
    "sp_single_bidder_share": ("Andel tilldelade delkontrakt som fick exakt ett anbud (BT-759).", TED_SV),
    "sc_ideburen_award_share_lots": ("Andel tilldelade delkontrakt där en vinnare är en idéburen organisation (ideell "
                                     "förening, trossamfund, stiftelse, registrerad hos Kammarkollegiet eller känt "
                                     "arbetsintegrerande socialt företag).",
                                     TED_SV + " Täckning = andel delkontrakt där alla vinnare kunde matchas mot ett organisationsnummer."),
    "sc_social_economy_award_share_lots": ("Andel tilldelade delkontrakt där en vinnare är idéburen eller en ekonomisk "
                                           "förening/europakooperativ.", TED_SV),
    "sc_sme_award_share_lots": ("Andel tilldelade delkontrakt där en vinnare är ett mikro-, små- eller medelstort företag (BT-165).",
                                TED_SV),
    "sc_ideburen_award_share_value": ("Andel av tilldelat värde i kronor som gått till idéburna organisationer; ett "
                                      "konsortiums anbud räknas en gång; belopp i andra valutor ingår inte.",
                                      TED_SV + " Ramavtalsvärden är tak, inte faktiska inköp."),
    "sc_social_economy_award_share_value": ("Andel av tilldelat värde i kronor som gått till idéburna organisationer "
                                            "eller ekonomiska föreningar; ett konsortiums anbud räknas en gång.",
                                            TED_SV + " Ramavtalsvärden är tak, inte faktiska inköp."),
    "sc_public_civil_contracts": ("Antal olika par av offentlig köpare och idéburen leverantör med tilldelat kontrakt "
                                  "under året, räknat där köparen finns.",
                                  TED_SV + " En affärsrelation, inte hela samverkan (IOP och bidrag syns inte här)."),
    "sc_iop_agreements": ("Idéburet-offentliga partnerskap (IOP) som gällt någon gång under året, enligt egen lista.",
                          "Bara så fullständig som listan; täckning = andel av områdets kommuner som listan omfattar."),
    "sc_reserved_award_value": ("Tilldelat värde i kronor i upphandlingar där deltagandet eller utförandet var reserverat.",
                                TED_SV + " Ramavtalsvärden är tak, inte faktiska inköp."),
    "se_ideburen_density": ("Ideella föreningar och stiftelser med näringsverksamhet, ekonomiska föreningar och "
                            "europakooperativ registrerade hos Bolagsverket, per 10 000 invånare 20–64 år.",
                            "Registrerad är inte detsamma som verksam. De flesta ideella föreningar finns inte hos "
                            "Bolagsverket. Innevarande år är preliminärt."),
    "se_new_cooperatives": ("Nyregistrerade ekonomiska föreningar och europakooperativ under året (Bolagsverket).",
                            "Innevarande år är preliminärt."),
    "lm_unemployment_rate": ("Arbetslösa som andel av arbetskraften (sysselsatta + arbetslösa) 20–64 år, registerbaserat (SCB BAS).",
                             "Preliminära månadsvärden. Län och riket är SCB:s publicerade totaler. Små celler störs av SCB från 2025."),
    "lm_youth_unemployment_rate": ("Arbetslösa som andel av arbetskraften 20–24 år (SCB BAS).",
                                   "Små kommuner kan ha undertryckta värden (..)."),
    "lm_employment_rate": ("Sysselsatta som andel av befolkningen 20–64 år (SCB BAS).", "Registerbaserat, preliminärt."),
    "lm_registered_unemployment_rate": ("Inskrivna arbetslösa (öppet arbetslösa och i program med aktivitetsstöd) som "
                                        "andel av den registerbaserade arbetskraften (Arbetsförmedlingen).",
                                        "Åldersintervallet ändrades från 16–64 till 16–65 år 2023 (tidsseriebrott). "
                                        "Inte SCB:s officiella arbetslöshet."),
    "lm_long_term_unemployed_count": ("Inskrivna arbetslösa utan arbete i mer än 12 månader (Arbetsförmedlingen).",
                                      "Antal under 5 redovisas inte. Tidsseriebrott 2023."),
    "lm_long_term_unemployed_share": ("Andel av de inskrivna arbetslösa som varit utan arbete i mer än 12 månader.",
                                      "Tidsseriebrott 2023."),
}

for _base in ("sp_social_share", "sp_innovation_share", "sp_green_share"):
    _sv, _ = SWEDISH[_base]
    SWEDISH[f"{_base}_of_stated"] = (
        "Samma andel räknad bara bland de upphandlingar som angett uppgiften. " + _sv,
        TED_SV + " " + FLAG_SV + " Läs tillsammans med huvudmåttet (av alla) och täckningen.")

BY_ID = {i.id: i for i in CATALOGUE}


def rows() -> list[dict]:
    missing = [i.id for i in CATALOGUE if i.id not in SWEDISH]
    if missing:
        raise ValueError(f"indicators without a Swedish definition: {', '.join(missing)}")
    return [{**asdict(i), "definition_sv": SWEDISH[i.id][0], "caveats_sv": SWEDISH[i.id][1]} for i in CATALOGUE]
