"""croissant.json: the Croissant description of the built dataset, made with mlcroissant.

One FileSet per config (its Parquet files), one RecordSet per config whose
fields mirror the generated `datasets.Features` (structs as sub-fields, lists
as arrays), and one small enumeration RecordSet per closed vocabulary that
ClassLabel columns reference. Responsible-AI properties are filled from what
the build knows (time frame, cleaning, token view, annotation scheme) and
from an optional `rai:` block of corpus/dataset.yaml.

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

from .features import DERIVED, class_names
from .ner import REASONS
from .standoff import FIELDS

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
    "claim_clusters/conflict": None,  # filled with the build's CONFLICT_RULE
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


def _field(fid: str, name: str, feature, source, vocabularies: dict, descriptions: dict,
           is_array: bool | None = None) -> mlc.Field:
    """A Croissant Field for one datasets feature; `source(path)` gives the Source of a sub-path."""
    desc = descriptions.get(fid)
    if isinstance(feature, List):
        inner = feature.feature
        if isinstance(inner, dict):
            subs = [_field(f"{fid}/{k}", k, v, lambda p, k=k: source(p + [k]), vocabularies, descriptions)
                    for k, v in inner.items()]
            return mlc.Field(id=fid, name=name, description=desc, is_array=True, sub_fields=subs)
        return _field(fid, name, inner, source, vocabularies, descriptions, is_array=True)
    if isinstance(feature, dict):
        subs = [_field(f"{fid}/{k}", k, v, lambda p, k=k: source(p + [k]), vocabularies, descriptions)
                for k, v in feature.items()]
        return mlc.Field(id=fid, name=name, description=desc, sub_fields=subs)
    if isinstance(feature, ClassLabel):
        # a reference makes mlcroissant join the enumeration, which it can do for top-level scalars only
        enum = _enum_id(_vocab_of(feature, vocabularies))
        top_scalar = not is_array and fid.count("/") == 1
        return mlc.Field(id=fid, name=name, description=desc or f"Class index; names in record set {enum}.",
                         data_types=[mlc.DataType.INTEGER], source=source([]), is_array=is_array,
                         references=mlc.Source(field=f"{enum}/index") if top_scalar else mlc.Source())
    if isinstance(feature, Value):
        return mlc.Field(id=fid, name=name, description=desc, data_types=[_DTYPES[feature.dtype]],
                         source=source([]), is_array=is_array)
    raise TypeError(f"{fid}: no Croissant mapping for {feature!r}")


def record_set(config: str, features, vocabularies: dict, descriptions: dict) -> mlc.RecordSet:
    files = f"{config}-parquet"

    def column_source(column):
        def source(path):
            transforms = [mlc.Transform(json_path=".".join(path))] if path else []
            return mlc.Source(file_set=files, extract=mlc.Extract(column=column), transforms=transforms)
        return source

    fields = [_field(f"{config}/{col}", col, feat, column_source(col), vocabularies, descriptions)
              for col, feat in features.items()]
    key = {"documents": "id", "ner": "id", "claim_clusters": "cluster_id"}.get(config)
    keys = [f"{config}/{key}"] if key else [f"{config}/document_id", f"{config}/id"]
    return mlc.RecordSet(id=config, name=config, fields=fields, key=keys if len(keys) > 1 else keys[0],
                         description=f"The `{config}` config (split test).")


def citation(info: dict) -> str:
    authors = " and ".join(info.get("authors") or [])
    return (f"@misc{{{info.get('citation_key', info['name'])},\n  title = {{{info['pretty_name']}}},\n"
            f"  author = {{{authors}}},\n  note = {{Version {info['version']}}}\n}}")


def rai_properties(ctx, report) -> dict:
    """RAI values the build derives, overridden by corpus/dataset.yaml `rai:`."""
    inv = ctx.inv
    intervals = [dct_interval(str(r["dct"]["value"])) for r in ctx.records if (r.get("dct") or {}).get("value")]
    intervals = [i for i in intervals if i]
    bases = {}
    for r in ctx.records:
        b = (r.get("dct") or {}).get("basis") or "unknown"
        bases[b] = bases.get(b, 0) + 1
    cleaning = report.stats.get("cleaning", {})
    rules = "; ".join(f"{r.name} ({cleaning.get(r.name, 0)}): {' '.join(r.description.split()).rstrip('.')}"
                      for r in ctx.rules)
    token_view = report.stats.get("token_view", {})
    layers = "; ".join(f"{layer}: {', '.join(inv.labels(layer))}" for layer in ("entities", "timexes", "attributions", "claims"))
    import spacy

    out = {
        "data_collection_timeframe": [min(i[0] for i in intervals), max(i[1] for i in intervals)] if intervals else None,
        "data_collection": (
            f"{report.documents} documents kept byte-identical to their sources (corpus/raw, sha256 checked on every "
            f"read); document creation dates: " + ", ".join(f"{n} {b}" for b, n in sorted(bases.items()))
            + " (evidence per document in documents.metadata.dct)."
        ),
        "data_preprocessing_protocol": (
            "Rule-based cleaning (corpus/cleaning_rules.yaml) with an exact raw<->clean offset map; every removal "
            f"or substitution is counted under its rule name. Rules (count over the corpus): {rules}."
        ),
        "data_manipulation_protocol": (
            f"Token view (config ner): spaCy {spacy.__version__} rule-based English tokenizer and sentencizer, no "
            "trained model. Tokens are split at entity/time span boundaries where a letter or digit meets another "
            f"character ({token_view.get('split_at_span_boundary', 0)} splits); sentence boundaries inside a span "
            f"are removed ({token_view.get('merge_sentences_in_span', 0)} merges); sentences also start after a "
            "line break; whitespace tokens are dropped."
        ),
        "data_annotation_protocol": (
            f"annotations/GUIDELINES.md, label schema {inv.schema_version} (schemas/labels.yaml). Layers: {layers}. "
            "Claims carry source_type, factuality, a cross-document cluster id and, for numeric claims, the figure."
        ),
        "machine_annotation_tools": [f"spaCy {spacy.__version__} (tokenizer and sentencizer of the ner config only)"],
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
    license_text = info.get("license_details") or info.get("license")
    with _quiet_absl():
        md = mlc.Metadata(
            name=info["name"],
            description=" ".join(str(info["description"]).split()),
            version=str(info["version"]),
            license=[" ".join(str(license_text).split())],
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
    from .build import CONFLICT_RULE

    with _quiet_absl():
        obj = metadata(ctx, report, CONFLICT_RULE).to_json()
    return json.dumps(fix_rai_spelling(obj), ensure_ascii=False, indent=2, default=str) + "\n"
