"""Tests of the generated Python client (`generated/gorgias/python`, import package `gorgias`)."""
