"""Vision-language-model judges in PreferThinker's layout: the shared assessor (base), its
options (options), the HTTP transport (http), the OpenAI-compatible and vLLM backend
(openai), transformers in-process (hf), and `agentpref serve` (server)."""
