"""The README.md front matter: the dataset card metadata that `load_dataset` reads.

Rendered with huggingface_hub.DatasetCardData and datasets.DatasetInfosDict
from corpus/dataset.yaml and the build's counts; the body of README.md
(below the closing `---`) belongs to the datasheet and is kept byte for byte.
"""
from __future__ import annotations

import re

import yaml
from datasets import DatasetInfo, SplitDict, SplitInfo
from datasets.info import DatasetInfosDict
from huggingface_hub import DatasetCardData

from pactnews.pipeline.features import DEFAULT_CONFIG, SPLIT

# optional keys of corpus/dataset.yaml passed through to the card as they are
PASSTHROUGH = ("annotations_creators", "language_creators", "source_datasets", "tags", "license_link",
               "paperswithcode_id")


def size_category(n: int) -> str:
    """The size_categories value for n examples (datasets/utils/resources/size_categories.json)."""
    bounds = [(1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M"),
              (10_000_000, "1M<n<10M"), (100_000_000, "10M<n<100M"), (1_000_000_000, "100M<n<1B")]
    for bound, name in bounds:
        if n < bound:
            return name
    return "n>1T" if n > 10**12 else "1B<n<10B"


def card_data(info: dict, features: dict, configs: list[str], rows: dict, nbytes: dict,
              download_sizes: dict) -> DatasetCardData:
    """Card metadata for the configs that have rows (`datasets` cannot load an empty split).

    The features are not repeated here: every Parquet file carries them in its schema metadata
    (key `huggingface`), where `load_dataset` reads them, with the same ClassLabels. Declared in the card
    as well they made the front matter about five times longer, and parsing it was most of a warm
    `load_dataset` (bench/LOAD.md); so the `features` argument is not written.
    """
    version = str(info["version"])
    languages = list(info["language"])
    extra = {k: info[k] for k in PASSTHROUGH if info.get(k) is not None}
    entries = []
    for config in configs:
        entry = {"config_name": config, "data_files": [{"split": SPLIT, "path": f"data/{config}/{SPLIT}-*.parquet"}]}
        if config == DEFAULT_CONFIG:
            entry["default"] = True
        entry["version"] = version
        entries.append(entry)
    card = DatasetCardData(
        pretty_name=info["pretty_name"],
        language=languages,
        license=info["license"],
        license_name=info.get("license_name"),
        multilinguality=info.get("multilinguality") or ["monolingual" if len(languages) == 1 else "multilingual"],
        size_categories=[info["size_category"]],
        task_categories=list(info.get("task_categories") or []),
        task_ids=list(info.get("task_ids") or []),
        version=version,
        configs=entries,
        **extra,
    )
    infos = DatasetInfosDict({
        config: DatasetInfo(
            splits=SplitDict({SPLIT: SplitInfo(name=SPLIT, num_bytes=nbytes[config], num_examples=rows[config])}),
            download_size=download_sizes[config],
            dataset_size=nbytes[config],
        )
        for config in configs
    })
    infos.to_dataset_card_data(card)
    return card


# YAML reads these as line breaks (NEL, LS, PS among them) or refuses them: a string holding one is written
# double-quoted, where each becomes an escape, so no value of corpus/dataset.yaml can end the front matter
# (a line `---`) or change when the Hub reads it back
_NOT_PLAIN = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\n\u2028\u2029\ufeff\ud800-\udfff]")


class _CardDumper(yaml.Dumper):
    """huggingface_hub's yaml_dump (yaml.dump, allow_unicode), but line breaks and control characters in a
    string are escapes inside double quotes."""


def _represent_str(dumper: yaml.Dumper, value: str):
    if _NOT_PLAIN.search(value):
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style='"')
    return dumper.represent_str(value)


_CardDumper.add_representer(str, _represent_str)


def front_matter(info: dict, features: dict, configs: list[str], rows: dict, nbytes: dict, download_sizes: dict) -> str:
    """The YAML text between the `---` lines (ends with a newline)."""
    data = card_data(info, features, configs, rows, nbytes, download_sizes).to_dict()
    text = yaml.dump(data, Dumper=_CardDumper, stream=None, allow_unicode=True, sort_keys=False).strip()
    return text + "\n"


def split_readme(content: str) -> tuple[str | None, str]:
    """(front matter YAML or None, body) of a README; the body is returned exactly as it is."""
    if not content.startswith("---\n"):
        return None, content
    end = content.find("\n---\n", 3)
    if end < 0:
        if content.endswith("\n---"):
            return content[4: len(content) - 3], ""
        return None, content
    return content[4: end + 1], content[end + 5:]


def render_readme(existing: str | None, yaml_text: str) -> str:
    """README.md with new front matter and the existing body unchanged (empty when there is no README)."""
    body = split_readme(existing)[1] if existing is not None else ""
    return f"---\n{yaml_text}---\n{body}"
