"""Tests of the generated Python client (`generated/python`, import package `gorgias`)."""
