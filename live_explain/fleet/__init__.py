"""Batches of drives: ``live-explain batch`` on Ray (or inline); see :mod:`.batch`."""
