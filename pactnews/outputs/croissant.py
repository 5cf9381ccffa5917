"""croissant.json: the Croissant description of the built dataset, made with mlcroissant.

One FileSet per config (its Parquet files), one RecordSet per config whose
fields mirror the generated `datasets.Features` (structs as sub-fields, lists
as arrays), and one small enumeration RecordSet per closed vocabulary that
ClassLabel columns reference. Nested fields read from their Parquet column with a
JSONPath transform to the member inside the column value (outermost name
first); the sub-fields of a list of structs have the path inside one element.
Every Croissant RAI 1.0 property is filled from the data, the repository's
reports and the datasheet's facts (`conformsTo` lists Croissant 1.0 and RAI
1.0); an optional `rai:` block of corpus/dataset.yaml overrides a value.

mlcroissant 1.1 writes two RAI properties under names the RAI vocabulary does
not have (rai:dataCollectionTimeFrame, rai:dataDataManipulationProtocol); the
JSON is written with the vocabulary's names (rai:dataCollectionTimeframe,
rai:dataManipulationProtocol).
"""
from __future__ import annotations

import json
import logging
import re
from contextlib import contextmanager

import mlcroissant as mlc
from datasets import ClassLabel, List, Value

from pactnews.pipeline.features import DERIVED, class_names
from pactnews.pipeline.ner import REASONS
from pactnews.annotations.conflicts import CLUSTER_CONFLICT_RULE
from pactnews.annotations.standoff import FIELDS

RAI_SPELLING = {
    "rai:dataCollectionTimeFrame": "rai:dataCollectionTimeframe",
    "rai:dataDataManipulationProtocol": "rai:dataManipulationProtocol",
}
# corpus/dataset.yaml `rai:` keys (mlcroissant attribute names) that are passed through
RAI_KEYS = (
    "data_collection", "data_collection_type", "data_collection_missing_data", "data_collection_raw_data",
    "data_collection_timeframe", "data_imputation_protocol", "data_preprocessing_protocol",
    "data_manipulation_protocol", "data_annotation_protocol", "data_annotation_platform",
    "data_annotation_analysis", "annotations_per_item", "annotator_demographics", "machine_annotation_tools",
    "data_biases", "data_use_cases", "data_limitations", "data_social_impact",
    "personal_sensitive_information", "data_release_maintenance_plan",
)
_DTYPES = {
    "string": mlc.DataType.TEXT, "large_string": mlc.DataType.TEXT, "bool": mlc.DataType.BOOL,
    "int8": mlc.DataType.INTEGER, "int16": mlc.DataType.INTEGER, "int32": mlc.DataType.INTEGER,
    "int64": mlc.DataType.INTEGER, "float32": mlc.DataType.FLOAT, "float64": mlc.DataType.FLOAT,
}
DESCRIPTIONS = {
    "claim_clusters/conflict": None,  # filled with pactnews.annotations.conflicts.CLUSTER_CONFLICT_RULE
    "claim_clusters/conflict_basis": "The figures the rule compared, each with the claims that report it.",
    "claim_clusters/figures": "Distinct (value, unit) figures reported in the cluster, with how many claims report each.",
    "ner/ner_tags": "IOB2 tags over the 18 OntoNotes labels: entities plus time expressions mapped by the inventory's timex_map.",
    "ner/token_starts": "Start offset of each token in the document text (code points).",
    "ner/token_ends": "End offset (exclusive) of each token in the document text.",
    "claims/source": "Who asserts the claim: the canonical entity name, the SOURCE span text, or 'author'.",
}


def _enum_id(vocab: tuple[str, str]) -> str:
    layer, field = vocab
    if layer == "ner":
        return "ner_tag_names"
    if field == "label":
        return f"{layer}_labels"
    if layer == "conflicts":
        return f"conflict_{field}_values"
    return f"{field}_values"


def _vocabularies(inv) -> dict[tuple[str, str], list[str]]:
    out = {}
    for layer in FIELDS:
        names = class_names(inv, layer, "label")
        out[(layer, "label")] = names
    for layer in FIELDS:
        for field in FIELDS[layer]:
            names = class_names(inv, layer, field)
            if field != "label" and names:
                out[(layer, field)] = names
    out[("conflicts", "type")] = inv.conflict_types
    out[("conflicts", "origin")] = list(inv.conflict_section("origins"))
    out[("ner", "ner_tags")] = inv.ner_tags
    return out


def _vocab_of(feature: ClassLabel, vocabularies: dict) -> tuple[str, str]:
    for key, names in vocabularies.items():
        if list(feature.names) == list(names):
            return key
    raise ValueError(f"ClassLabel {feature.names} is not an inventory vocabulary")


def enumeration(key: tuple[str, str], names: list[str]) -> mlc.RecordSet:
    rid = _enum_id(key)
    return mlc.RecordSet(
        id=rid, name=rid, key=f"{rid}/index",
        description=f"Class indices of {key[0]}.{key[1]} (from schemas/labels.yaml).",
        fields=[mlc.Field(id=f"{rid}/index", name="index", data_types=[mlc.DataType.INTEGER]),
                mlc.Field(id=f"{rid}/name", name="name", data_types=[mlc.DataType.TEXT])],
        data=[{f"{rid}/index": i, f"{rid}/name": n} for i, n in enumerate(names)],
    )


_JSON_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def json_path(path: list[str]) -> str:
    """A JSONPath to a member of a struct value ("$.dct.value"); names that are not plain identifiers
    (or are jsonpath_rw's keyword `where`) are quoted."""
    return "$" + "".join(f".{k}" if _JSON_NAME.fullmatch(k) and k != "where" else f".{json.dumps(k)}" for k in path)


def _field(fid: str, name: str, feature, source, path: list[str], vocabularies: dict, descriptions: dict,
           repeated: bool = False, in_list: bool = False) -> mlc.Field:
    """A Croissant Field for one datasets feature.

    `source(path)` gives the Source of the Parquet column the field lives in, with a jsonPath transform
    to `path` inside the column value (outermost name first). mlcroissant 1.1 applies a transform to
    each element when the column value is a list, so the sub-fields of a list of structs have the path
    inside one element. Lists are `repeated` fields (the Croissant 1.0 term).
    """
    desc = descriptions.get(fid)
    if isinstance(feature, List):
        inner = feature.feature
        if isinstance(inner, dict):
            if path or in_list:
                raise TypeError(f"{fid}: a list of structs inside another field cannot be read by mlcroissant 1.1")
            subs = [_field(f"{fid}/{k}", k, v, source, [k], vocabularies, descriptions, in_list=True)
                    for k, v in inner.items()]
            return mlc.Field(id=fid, name=name, description=desc, repeated=True, sub_fields=subs)
        if isinstance(inner, (List, dict)) or repeated:
            raise TypeError(f"{fid}: nested lists have no Croissant 1.0 mapping")
        return _field(fid, name, inner, source, path, vocabularies, descriptions, repeated=True, in_list=in_list)
    if isinstance(feature, dict):
        if in_list:
            raise TypeError(f"{fid}: a struct inside a list of structs cannot be read by mlcroissant 1.1")
        subs = [_field(f"{fid}/{k}", k, v, source, path + [k], vocabularies, descriptions)
                for k, v in feature.items()]
        return mlc.Field(id=fid, name=name, description=desc, sub_fields=subs)
    if isinstance(feature, ClassLabel):
        # a reference makes mlcroissant join the enumeration, which it can do for top-level scalars only
        enum = _enum_id(_vocab_of(feature, vocabularies))
        top_scalar = not repeated and not path
        return mlc.Field(id=fid, name=name, description=desc or f"Class index; names in record set {enum}.",
                         data_types=[mlc.DataType.INTEGER], source=source(path), repeated=repeated or None,
                         references=mlc.Source(field=f"{enum}/index") if top_scalar else mlc.Source())
    if isinstance(feature, Value):
        return mlc.Field(id=fid, name=name, description=desc, data_types=[_DTYPES[feature.dtype]],
                         source=source(path), repeated=repeated or None)
    raise TypeError(f"{fid}: no Croissant mapping for {feature!r}")


def record_set(config: str, features, vocabularies: dict, descriptions: dict) -> mlc.RecordSet:
    files = f"{config}-parquet"

    def column_source(column):
        def source(path):
            transforms = [mlc.Transform(json_path=json_path(path))] if path else []
            return mlc.Source(file_set=files, extract=mlc.Extract(column=column), transforms=transforms)
        return source

    fields = [_field(f"{config}/{col}", col, feat, column_source(col), [], vocabularies, descriptions)
              for col, feat in features.items()]
    key = {"documents": "id", "ner": "id", "claim_clusters": "cluster_id", "conflicts": "conflict_id"}.get(config)
    keys = [f"{config}/{key}"] if key else [f"{config}/document_id", f"{config}/id"]
    return mlc.RecordSet(id=config, name=config, fields=fields, key=keys if len(keys) > 1 else keys[0],
                         description=f"The `{config}` config (split test).")


def _bib(value) -> str:
    """A value inside a BibTeX brace group: braces and backslashes escaped, so a title cannot close the field."""
    return str(value).replace("\\", "\\textbackslash{}").replace("{", "\\{").replace("}", "\\}").replace(
        "\\textbackslash\\{\\}", "\\textbackslash{}")


def citation(info: dict) -> str:
    authors = " and ".join(_bib(a) for a in info.get("authors") or [])
    key = re.sub(r"[^A-Za-z0-9_:.-]", "_", str(info.get("citation_key", info["name"])))  # a key has no {}, or spaces
    return (f"@misc{{{key},\n  title = {{{_bib(info['pretty_name'])}}},\n"
            f"  author = {{{authors}}},\n  note = {{Version {_bib(info['version'])}}}\n}}")


CONFORMS_TO = ["http://mlcommons.org/croissant/1.0", "http://mlcommons.org/croissant/RAI/1.0"]
CC_BY_4 = "https://creativecommons.org/licenses/by/4.0/"


def _report(layout, name: str) -> dict | None:
    """annotations/reports/<name>, or None when this version has no such report."""
    path = layout.annotations / "reports" / name
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def _guidelines_version(layout) -> str | None:
    path = layout.annotations / "GUIDELINES.md"
    if not path.is_file():
        return None
    m = re.search(r"^\**Version ([0-9][^\s*]*)", path.read_text(encoding="utf-8"), re.MULTILINE)
    return m.group(1) if m else None


def _words(items) -> str:
    items = [str(i) for i in items]
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1] if items else "none"


def _f(x) -> str:
    return "undefined" if x is None else f"{x:.3f}"


def license_statement(info: dict) -> str:
    """The licence of each part: corpus/dataset.yaml license_details, with where the licence texts are."""
    details = info.get("license_details")
    if not details:
        raise ValueError("corpus/dataset.yaml: license_details (the licence of each part) is missing")
    return (" ".join(str(details).split())
            + f" Licence texts: LICENSE at the repository root (MIT, code); {CC_BY_4} (CC BY 4.0, annotations).")


def _annotation_analysis(agreement: dict | None, adjudication: dict | None) -> list[str]:
    out = []
    if agreement is None:
        out.append("No agreement report (annotations/reports/agreement.json) in this version.")
    else:
        a, b = sorted(agreement["passes"])
        spans = "; ".join(
            f"{layer} strict {_f(v['ALL']['strict']['f1'])} ({v['ALL']['strict']['matched']} matched of "
            f"{v['ALL']['strict']['a']} and {v['ALL']['strict']['b']}), overlap {_f(v['ALL']['overlap']['f1'])}"
            for layer, v in agreement["spans"].items())
        out.append(f"Agreement between the independent passes {a} and {b} over {len(agreement['documents'])} "
                   f"documents (annotations/reports/agreement.json, {a} as reference). Span F1: {spans}.")
        alphas = []
        for layer, v in agreement.get("attributes", {}).items():
            for attr, m in v.get("offsets", {}).get("attributes", {}).items():
                if m.get("measure") != "identity":
                    alphas.append(f"{layer}.{attr} {_f(m.get('alpha'))} ({m.get('alpha_items', m.get('items'))} items)")
        if alphas:
            out.append("Krippendorff's alpha on matched spans (undefined where only one value occurs): "
                       + "; ".join(alphas) + ".")
        clusterings = "; ".join(
            f"{name}: adjusted Rand {_f(c['adjusted_rand'])}, B-cubed F1 {_f(c['bcubed']['f1'])} ({c['items']} items)"
            for name, c in agreement.get("clusterings", {}).items())
        if clusterings:
            out.append(f"Cross-document clusterings: {clusterings}.")
        conflicts = agreement.get("conflicts")
        if conflicts and conflicts.get("lenient"):
            out.append(f"Conflicts ({conflicts['a']} in {a}, {conflicts['b']} in {b}): lenient F1 "
                       f"{_f(conflicts['lenient']['f1'])}, strict F1 {_f(conflicts['strict']['f1'])}.")
        out.append("Both passes came from the same model working from the same guidelines, so they share its "
                   "habits and blind spots: the agreement very likely overstates what two human annotators would "
                   "reach. It measures the consistency of the procedure, not the difficulty of the task for people.")
    if adjudication is None:
        out.append("No adjudication report (annotations/reports/adjudication.json) in this version.")
    else:
        layers = "; ".join(f"{layer}: {c.get('items', 0)} items, {c.get('decided', 0)} decided"
                           for layer, c in adjudication["layers"].items())
        out.append(f"Adjudication (annotations/reports/adjudication.json, annotations/ADJUDICATION.md): {layers}; "
                   f"{adjudication['decisions']} logged decisions, each citing the guideline rule it applies; the "
                   f"consistency sweep changed {adjudication['agreed_changed']} spans that all sources agreed on; "
                   f"{adjudication['cluster_decisions']} claim-cluster decisions.")
    return out


def rai_properties(ctx, report) -> dict:
    """Every Croissant RAI 1.0 property, from the data, the repository's reports and the datasheet's facts;
    corpus/dataset.yaml `rai:` overrides a value."""
    import spacy

    inv, layout = ctx.inv, ctx.layout
    n = report.documents
    tally = report.tally  # the metadata counted by the build's shards (pactnews.outputs.datasheet.Tally)
    intervals = [dct_interval(v) for v in sorted(tally.dct_values)]
    intervals = [i for i in intervals if i]
    bases = dict(tally.dct_basis)
    dct_bases = ", ".join(f"{k} {b}" for b, k in sorted(bases.items()))
    titles = tally.titles
    outlets = sum(k for outlet, k in tally.outlets.items() if outlet)
    urls = tally.urls
    cleaning = report.stats.get("cleaning", {})
    rules = "; ".join(f"{r.name} ({cleaning.get(r.name, 0)}): {' '.join(r.description.split()).rstrip('.')}"
                      for r in ctx.rules)
    token_view = report.stats.get("token_view", {})
    layers = "; ".join(f"{layer}: {', '.join(inv.labels(layer))}" for layer in ("entities", "timexes", "attributions", "claims"))
    agreement = _report(layout, "agreement.json")
    adjudication = _report(layout, "adjudication.json")
    pre = _report(layout, "preannotation_scores.json")
    passes = _words(sorted(agreement["passes"])) if agreement else "none recorded in this version"
    person_label = "PERSON"
    persons = sorted({v["name"] for k, v in ctx.entity_table.items()
                      if v.get("label") == person_label and k in getattr(tally, "person_ids", set())})
    counts = getattr(tally, "layers", {}) or {}
    gold = ", ".join(f"{counts.get(layer, 0)} {layer}" for layer in ("entities", "timexes", "attributions", "claims",
                                                                    "relations"))
    first, last = (min(i[0] for i in intervals), max(i[1] for i in intervals)) if intervals else (None, None)
    spacy_v = spacy.__version__
    gv = _guidelines_version(layout) or "(unversioned)"
    items = sum(c.get("items", 0) for c in adjudication["layers"].values()) if adjudication else None

    out = {
        "data_collection": (
            f"Seed articles: {n} English news articles reporting one event, supplied to the project as seed files "
            "of text extracted from web pages (leftovers of the pages show it). The project fetched nothing itself "
            "and does not know the extraction tool, the date of extraction or the URLs. The seed files are kept "
            "byte-identical under corpus/raw (SHA-256 checked on every read) and cleaned by the explicit, named "
            f"rules of corpus/cleaning_rules.yaml only ({len(ctx.rules)} rules; see rai:dataPreprocessingProtocol). "
            "All metadata is read off the texts (corpus/metadata.yaml, documents.metadata): document creation "
            f"dates (DCTs) {dct_bases}, with the evidence in documents.metadata.dct. "
            "rai:dataCollectionTimeframe gives the first and last day of the articles' DCTs, the only dates the "
            "repository records for the texts; when the seed texts were extracted from the web is not recorded "
            f"(it can only have been on or after {last})." if last else
            f"Seed articles: {n} English news articles supplied to the project as seed files; no DCT is recorded."
        ),
        "data_collection_type": [
            "Secondary data: published news articles, supplied to the project as seed files of text extracted "
            "from web pages by a third party with a tool the project does not know; the project collected "
            "nothing from people.",
            "Purposive selection, not a sample: every article of the seed set is in the corpus; how the seed "
            "articles were chosen is not recorded beyond what the texts show (they report the same event).",
        ],
        "data_collection_missing_data": (
            "Missing values are recorded as unknown with the reason, not guessed (corpus/metadata.yaml, "
            f"documents.metadata): a title in {titles} of {n} articles, a named outlet in {outlets} of {n}, a "
            f"URL in {urls} of {n}; DCTs {dct_bases}. Authors' names, bylines and publication times are not "
            "part of the seed files. Vague counts ('thousands') are claims without quantity_value."
        ),
        "data_collection_raw_data": (
            "corpus/raw/<id>.txt: the seed files byte for byte (SHA-256 in documents.metadata.raw_sha256, checked "
            "on every read); corpus/clean/<id>.map.json maps every clean character, and so every annotation, back "
            "onto the raw text. The original web pages are not kept and their URLs are unknown."
        ),
        "data_collection_timeframe": [first, last] if intervals else None,
        "data_imputation_protocol": (
            "No value is imputed. Missing metadata stays null with the reason in the *_basis and *_note fields. "
            f"DCTs with basis 'inferred' ({bases.get('inferred', 0)} of {n}) are inferred from evidence in the text "
            "and the other articles, quoted in documents.metadata.dct.evidence; where an inferred DCT has only month "
            "granularity, relative days keep the coarsest value the text supports."
        ),
        "data_preprocessing_protocol": (
            "Rule-based cleaning (corpus/cleaning_rules.yaml) with an exact raw<->clean offset map; every removal "
            f"or substitution is counted under its rule name. Rules (count over the corpus): {rules}."
        ),
        "data_manipulation_protocol": (
            f"Token view (config ner): spaCy {spacy_v} rule-based English tokenizer and sentencizer, no "
            "trained model. Tokens are split at entity/time span boundaries where a letter or digit meets another "
            f"character ({token_view.get('split_at_span_boundary', 0)} splits); sentence boundaries inside a span "
            f"are removed ({token_view.get('merge_sentences_in_span', 0)} merges); sentences also start after a "
            "line break; whitespace tokens are dropped."
        ),
        "data_annotation_protocol": [
            f"annotations/GUIDELINES.md (version {gv}), label schema {inv.schema_version} (schemas/labels.yaml). "
            f"Layers: {layers}. Claims carry source_type, factuality, a cross-document cluster id and, for numeric "
            f"claims, the figure. Gold: {gold}.",
            "Procedure: an agent instance wrote the guidelines from the label inventory with invented examples "
            f"only; two independent passes ({passes}), each by a separate agent instance in a folder of its own "
            "holding only the guidelines, the clean texts and the DCTs, wrote inline authoring markup; code "
            "(pactnews markup) converted the markup to standoff records, recomputing every offset and checking the "
            "text against the clean text character for character; pactnews agreement compared both passes with "
            "the previous gold; agent instances, one per document, adjudicated every item and logged each decision "
            "with the guideline rule it applies; one instance decided the claim clusters; the conflict detectors "
            "ran over the adjudicated claims and an instance kept or dismissed each finding; pactnews validate "
            "checked the gold against the label inventory.",
        ],
        "data_annotation_platform": [
            "Inline authoring markup in plain-text files, converted to standoff JSON by code (pactnews markup); "
            "each annotating agent worked in a folder of its own with `pactnews markup --check` as its only "
            "checking command.",
            "Label Studio for later corrections: pactnews annotate (--with-gold) opens documents with their gold "
            "and pactnews pull brings corrected annotations back into annotations/, where pactnews validate "
            "checks them.",
        ],
        "data_annotation_analysis": _annotation_analysis(agreement, adjudication),
        "annotations_per_item": (
            f"Two independent passes ({passes}) plus an adjudication of every item by a third agent instance; the "
            "adjudication also compared the previous release's gold and swept every span against every rule"
            + (f" ({items} items in the three-way comparison, {adjudication['decisions']} logged decisions)."
               if adjudication else " (no adjudication report in this version).")
        ),
        "annotator_demographics": [
            "The annotators are AI agents, not people: separate instances of one large-language-model agent, each "
            "started with a written brief and nothing else of the project (one wrote the guidelines, one made each "
            "independent pass, one adjudicated each document, one decided the claim clusters, one reviewed the "
            "conflicts). Human demographic categories do not apply; the model and its version are not recorded "
            "in the repository.",
            "No crowdworkers or paid annotators were involved, and no human annotator has reviewed the gold yet.",
        ],
        "machine_annotation_tools": [
            "A large-language-model agent (separate instances of one agent) made every gold label: guidelines, "
            "both passes, adjudication, claim clusters and conflict review.",
            f"spaCy {spacy_v}: rule-based tokenizer and sentencizer of the ner config (no trained model).",
            f"spaCy {spacy_v} in the pre-annotator (pactnews preannotate"
            + (f", {pre['model_version']}" if pre and pre.get("model_version") else "")
            + "): a blank English pipeline with an EntityRuler over the entity table and gold surface forms, plus "
            "regular expressions and dateparser, proposing entities, time expressions and cues for annotation in "
            "Label Studio; no gold label of this version comes from it.",
        ],
        "data_biases": [
            f"{n} articles on a single event, a purposive selection: not representative of news coverage of the "
            "event, of any outlet or of English-language news; the articles overlap by design.",
            f"Outlets are named in {outlets} of {n} articles, so no statement about a particular outlet's "
            "reporting can be drawn from it.",
            "Every label was made by instances of one language model: a system that resembles the annotating "
            "model may be favoured, and errors shared by both passes show up only where the adjudication's sweep "
            "caught them.",
            "The pre-annotator's lexicon comes from this corpus, so its scores are optimistic.",
        ],
        "data_use_cases": [
            "Small-scale evaluation of named-entity recognition and cross-document entity linking; TIMEX3 "
            "recognition and normalisation against a document creation time; attribution (source and cue) "
            "extraction; claim detection and factuality; cross-document claim matching and conflict detection.",
            "Teaching annotation practice and testing annotation tooling.",
            "Not for: deciding whether a claim is true or ranking outlets or sources by reliability; training "
            "production models; profiling the people named; republishing the article texts outside the terms of "
            "their copyright.",
        ],
        "data_limitations": [
            f"{n} articles on one event: any score has a wide margin of error; one split (test), to be used whole.",
            "The gold was made by AI agents and has not been reviewed by people.",
            "Factuality is the source's commitment as the text presents it, not truth.",
            f"DCTs: {dct_bases}; TIMEX3 values of articles with an inferred DCT inherit the inference.",
            "The article texts are under their publishers' copyright, which limits uses beyond research.",
        ],
        "data_social_impact": (
            "The corpus records who said what about a military and political event, and with what commitment, "
            "not what happened. The main risks are misattribution (a statement annotated with the wrong source) "
            "and a claim read as established fact; the annotation keeps source and factuality apart from truth, "
            "records cross-outlet conflicts without resolving them, and invites corrections. No formal impact "
            "analysis or ethical review was conducted."
        ),
        "personal_sensitive_information": [
            f"Named public figures: the gold names {len(persons)} persons"
            + (f" ({_words(persons)})" if persons else "")
            + ", acting in public roles as the news texts present them.",
            "No data of private individuals: the texts are published news reporting; nothing was collected from "
            "the people named.",
            "Political opinions and military matters of states, including allegations some parties deny, "
            "recorded as claims with their source and factuality.",
        ],
        "data_release_maintenance_plan": (
            f"Maintained by the {_words(ctx.info.get('authors') or ['project team'])} in this repository. Versions "
            "follow semantic versioning (CHANGELOG.md) and are tagged; older versions stay available from the tags; "
            "pactnews diff lists every annotation change between two versions. Corrections come through Label "
            "Studio (pactnews annotate --with-gold, pactnews pull) or the issue tracker; takedown requests from "
            "rights holders or people named are honoured in the next version."
        ),
    }
    for key, value in (ctx.info.get("rai") or {}).items():
        if key not in RAI_KEYS:
            raise ValueError(f"corpus/dataset.yaml: rai.{key} is not a Croissant RAI property; expected one of {RAI_KEYS}")
        out[key] = value
    assert set(REASONS) >= set(token_view)
    return {k: v for k, v in out.items() if v is not None}


def dct_interval(value: str) -> tuple[str, str] | None:
    """First and last day of a creation date given as YYYY, YYYY-MM or YYYY-MM-DD (None for other values)."""
    import calendar

    m = re.fullmatch(r"(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?", value)
    if not m:
        return None
    year, month, day = m.group(1), m.group(2), m.group(3)
    if day:
        return value, value
    if month:
        last = calendar.monthrange(int(year), int(month))[1]
        return f"{year}-{month}-01", f"{year}-{month}-{last:02d}"
    return f"{year}-01-01", f"{year}-12-31"


@contextmanager
def _quiet_absl():
    logger = logging.getLogger("absl")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def metadata(ctx, report, conflict_rule: str) -> mlc.Metadata:
    info, inv = ctx.info, ctx.inv
    vocabularies = _vocabularies(inv)
    descriptions = dict(DESCRIPTIONS, **{"claim_clusters/conflict": conflict_rule})
    for layer, derived in DERIVED.items():
        if "entity_name" in derived:
            descriptions.setdefault(f"{layer}/entity_name", "Canonical name of entity_id (annotations/tables/entities.json).")
    distribution = [
        mlc.FileSet(id=f"{c}-parquet", name=f"{c}-parquet", encoding_formats=["application/x-parquet"],
                    includes=f"data/{c}/*.parquet", description=f"Parquet files of the {c} config.")
        for c in report.configs
    ]
    record_sets = [enumeration(k, v) for k, v in vocabularies.items()]
    record_sets += [record_set(c, ctx.features[c], vocabularies, descriptions) for c in report.configs]
    with _quiet_absl():
        md = mlc.Metadata(
            name=info["name"],
            description=" ".join(str(info["description"]).split()),
            version=str(info["version"]),
            license=[license_statement(info)],
            conforms_to=CONFORMS_TO,
            url=info.get("homepage"),
            cite_as=citation(info),
            creators=[mlc.Organization(name=a) for a in info.get("authors") or []],
            in_language=list(info.get("language") or []),
            keywords=list(info.get("task_categories") or []) + list(info.get("task_ids") or []),
            date_published=info.get("date_published"),
            distribution=distribution,
            record_sets=record_sets,
            **rai_properties(ctx, report),
        )
    errors = md.issues.errors
    if errors:
        raise ValueError("croissant.json: " + "; ".join(sorted(errors)))
    return md


def fix_rai_spelling(obj: dict) -> dict:
    """Rename mlcroissant's RAI keys to the RAI vocabulary's, keeping the key order."""
    return {RAI_SPELLING.get(k, k): v for k, v in obj.items()}


def croissant_json(ctx, report) -> str:

    with _quiet_absl():
        obj = metadata(ctx, report, CLUSTER_CONFLICT_RULE).to_json()
    return json.dumps(fix_rai_spelling(obj), ensure_ascii=False, indent=2, default=str) + "\n"
