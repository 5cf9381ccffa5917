"""Annotations: the canonical standoff format, inline markup, tables, conflicts, adjudication, pre-annotation."""
