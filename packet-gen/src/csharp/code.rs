//! A tiny indenting text builder: C# has no `prettyplease`, so the emitter writes lines at
//! the right depth itself and the output is stable by construction.

/// Lines of C# with four-space indentation.
#[derive(Default)]
pub(crate) struct Code {
    text: String,
    depth: usize,
}

impl Code {
    /// One line at the current depth (an empty `line` writes a blank line).
    pub fn line(&mut self, line: impl AsRef<str>) {
        let line = line.as_ref();
        if !line.is_empty() {
            for _ in 0..self.depth {
                self.text.push_str("    ");
            }
            self.text.push_str(line);
        }
        self.text.push('\n');
    }

    /// `header`, then `{` on its own line, and one level deeper.
    pub fn open(&mut self, header: impl AsRef<str>) {
        self.line(header);
        self.line("{");
        self.depth += 1;
    }

    /// A bare `{` (a scope for locals), and one level deeper.
    pub fn block(&mut self) {
        self.line("{");
        self.depth += 1;
    }

    /// One level shallower, then `}`.
    pub fn close(&mut self) {
        self.depth = self.depth.saturating_sub(1);
        self.line("}");
    }

    /// Source text copied in at the current depth, line by line.
    pub fn raw(&mut self, text: &str) {
        for line in text.lines() {
            self.line(line);
        }
    }

    /// The finished text.
    pub fn finish(self) -> String {
        self.text
    }
}
