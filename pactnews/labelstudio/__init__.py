"""The Label Studio round trip: labeling config, tasks, conversion, import, and the server verbs.

Everything here is generated from schemas/labels.yaml; no label name is written
by hand. The control names follow the canonical layers (``entities``,
``timexes``, ``attributions``, ``claims``) and each per-region attribute is the
control ``<layer>_<attribute>``, so a Label Studio result item says by its
``from_name`` alone which canonical field it fills.
"""
