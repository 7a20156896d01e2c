"""agentpref backends that make images: one module per backend behind `Generator`."""
