//! CSV as the server's exports and the app's write it: RFC 4180 quoting, and a cell that a
//! spreadsheet would run as a formula (`=`, `@`, a tab or carriage return first, or `+`/`-` not
//! followed by a number such as a phone number) written after a `'`, which spreadsheets show as
//! text.

/// One cell, quoted when it needs to be, a formula defused.
pub fn cell(value: &str) -> String {
    let number = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_digit() || c == ' ' || c == '.');
    let formula = value.starts_with(['=', '@', '\t', '\r']) || (value.starts_with(['+', '-']) && !number(&value[1..]));
    let value = if formula { format!("'{value}") } else { value.to_string() };
    if value.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value
    }
}

/// One line of cells, without its line ending.
pub fn line<S: AsRef<str>>(cells: &[S]) -> String {
    cells.iter().map(|c| cell(c.as_ref())).collect::<Vec<_>>().join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_are_quoted_and_formulas_defused() {
        assert_eq!(cell("plain"), "plain");
        assert_eq!(cell("a, b"), "\"a, b\"");
        assert_eq!(cell("say \"hi\"\nbye"), "\"say \"\"hi\"\"\nbye\"");
        assert_eq!(cell("=SUM(A1)"), "'=SUM(A1)");
        assert_eq!(cell("@x"), "'@x");
        assert_eq!(cell("-rm"), "'-rm");
        assert_eq!(cell("+cmd"), "'+cmd");
        assert_eq!(cell("+49 151 1234"), "+49 151 1234", "a phone number stays as it is");
        assert_eq!(cell("-12.5"), "-12.5");
        assert_eq!(line(&["a", "b,c"]), "a,\"b,c\"");
    }
}
