//! Query parameters: `:name` in a metric's SQL, outside comments and string literals, replaced
//! by a value from the configuration.

/// `sql` with every `:name` parameter replaced by its value in `params`; `Err(name)` for a
/// parameter `params` does not have. `::` (a cast) and `:` inside `-- comments` and `'strings'`
/// are left alone.
pub fn bind_parameters(sql: &str, params: &[(&str, String)]) -> Result<String, String> {
    let text = sql;
    let mut out = String::with_capacity(text.len());
    let mut chars = text.char_indices().peekable();
    let mut in_comment = false;
    let mut in_string = false;
    let mut prev = ' ';
    while let Some((i, c)) = chars.next() {
        if c == '\n' {
            in_comment = false;
        }
        if !in_comment && !in_string && c == '-' && text.get(i..).is_some_and(|t| t.starts_with("--")) {
            in_comment = true;
        }
        if !in_comment && c == '\'' {
            in_string = !in_string;
        }
        // `i` is a byte index: the rest starts after this character, however many bytes it has.
        let rest = text.get(i + c.len_utf8()..).unwrap_or_default();
        let next_is_ident = rest.chars().next().is_some_and(|n| n.is_ascii_alphabetic() || n == '_');
        if c == ':' && !in_comment && !in_string && prev != ':' && next_is_ident {
            let name: String = rest.chars().take_while(|n| n.is_ascii_alphanumeric() || *n == '_').collect();
            let value = params.iter().find(|(k, _)| *k == name).map(|(_, v)| v.as_str()).ok_or_else(|| name.clone())?;
            out.push_str(value);
            for _ in 0..name.chars().count() {
                chars.next();
            }
            prev = 'x';
            continue;
        }
        out.push(c);
        prev = c;
    }
    Ok(out)
}

/// `sql` without its comments (`-- to the end of the line` and `/* blocks */`, each becoming a
/// space or its line end), string literals and quoted names kept as they are (a `--` inside
/// `'text'` or `"a name"` starts no comment): what the query reads, not what its documentation
/// mentions.
pub fn without_comments(sql: &str) -> String {
    #[derive(PartialEq)]
    enum In {
        Code,
        LineComment,
        BlockComment,
        Quoted(char),
    }
    let mut out = String::with_capacity(sql.len());
    let mut state = In::Code;
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        match state {
            In::Code => match (c, chars.peek()) {
                ('-', Some('-')) => {
                    chars.next();
                    state = In::LineComment;
                }
                ('/', Some('*')) => {
                    chars.next();
                    out.push(' ');
                    state = In::BlockComment;
                }
                ('\'' | '"', _) => {
                    out.push(c);
                    state = In::Quoted(c);
                }
                _ => out.push(c),
            },
            In::LineComment => {
                if c == '\n' {
                    out.push(c);
                    state = In::Code;
                }
            }
            In::BlockComment => {
                if c == '*' && chars.peek() == Some(&'/') {
                    chars.next();
                    state = In::Code;
                }
            }
            In::Quoted(quote) => {
                out.push(c);
                if c == quote {
                    state = In::Code;
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comments_are_left_out_and_strings_kept() {
        let sql = "-- reads resolved_at\nSELECT grp, '--x' AS s -- closed_at\nFROM tickets";
        assert_eq!(without_comments(sql), "\nSELECT grp, '--x' AS s \nFROM tickets");
        // a `--` inside a block comment, a quoted name or a string over two lines starts none
        let sql = "SELECT /* was -- x */ AVG(reopen_count), \"a--b\", 'it''s\n-- text' /* a\nb */FROM t";
        assert_eq!(without_comments(sql), "SELECT   AVG(reopen_count), \"a--b\", 'it''s\n-- text'  FROM t");
    }

    #[test]
    fn parameters_are_bound_outside_comments_strings_and_casts() {
        let p = [("n", "5".to_string())];
        assert_eq!(bind_parameters("SELECT :n, x::INT, ':n' -- :n\n", &p).unwrap(), "SELECT 5, x::INT, ':n' -- :n\n");
        assert_eq!(bind_parameters("-- médiane – é\nSELECT :n", &p).unwrap(), "-- médiane – é\nSELECT 5");
        assert_eq!(bind_parameters("SELECT é:n", &p).unwrap(), "SELECT é5", "after a multi-byte character");
        assert_eq!(bind_parameters("SELECT :m", &p), Err("m".to_string()));
    }
}
