"""diffusers text-to-image pipelines as a `Generator` (pipeline): per-family sampling
defaults (options) and ViPer-style profile guidance (guidance). torch and diffusers are
imported only when a pipeline is loaded."""
