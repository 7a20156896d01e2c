"""The embedded generator (`painter`): renders a profile's palette, saturation, detail and
medium (generator) from a composition (compose) and a medium-like treatment (treat). Any
CPU, no weights; it does not draw the prompt's subject."""
