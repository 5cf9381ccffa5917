"""The one validator: incidents as data, in levels, used by every verb that reads the corpus."""
