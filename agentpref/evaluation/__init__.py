"""Evaluation harness: load benchmark data as per-user pairwise samples, measure assessors, report."""
