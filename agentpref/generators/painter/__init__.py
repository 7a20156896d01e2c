"""The embedded generator (`painter`): reads the prompt, negative prompt and profile into a
plan (plan), draws a composition (compose), gives it a medium-like treatment (treat), sets
saturation and lightness (tone) and searches the detail level (generator). Any CPU, no
weights; it does not draw the prompt's subject."""
