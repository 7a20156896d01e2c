"""The embedded judge (`features`): measures every image, builds the profile from what
separates likes from dislikes (profile), and scores candidates by distances per element
(distances). Any CPU, no weights."""
