"""Images in: references and candidates as validated `ImageRef`s (refs), safe decoding of
untrusted bytes (decode), prompt metadata other tools embed (metadata), and the pixel
measurements the embedded judge and painter share (measure)."""
