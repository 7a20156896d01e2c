"""PreferThinker's formats: the prompt words (prompts), the requests built from them
(requests), the output layout written (layout) and read back (parse), its JSON-schema
variant for structured outputs (json_schema), and their dataset files (jsonl)."""
