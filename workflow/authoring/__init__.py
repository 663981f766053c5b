"""Offline authoring tools for specs: the handbook importer and the workflow catalog."""
