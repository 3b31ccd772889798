using System.Text;
using System.Text.RegularExpressions;
using VirtualDevices.HelpGenerator;

namespace VirtualDevices.PowerShell.Tests;

/// <summary>
/// Finds the module's cmdlets invoked in PowerShell text (Pester suites, examples in the docs) and the parameter
/// names passed to each, without a PowerShell engine: a tokenizer that knows enough of the language (strings,
/// here-strings, comments, line continuations, nesting, statement ends) to tell an invocation's own parameters
/// from those of commands nested in it or piped after it.
/// </summary>
/// <remarks>
/// It is deliberately conservative: a cmdlet counts as invoked only in command position (first word of a statement,
/// of a pipeline element, of a parenthesised or braced block, or after an assignment or call operator), so a name
/// passed as an argument (<c>Get-Command Read-BlockDevice -Syntax</c>) is not taken for an invocation.
/// </remarks>
public static partial class ScriptUsageScanner
{
    /// <summary>One invocation: where it is, the name as written, and the parameter names as written (without the dash).</summary>
    public sealed record Invocation(string Source, int Line, string Command, IReadOnlyList<string> Parameters);

    private enum Kind
    {
        Word,
        String,
        Open,
        Close,
        Separator,
        Assignment,
        Other,
    }

    private readonly record struct Token(Kind Kind, string Text, int Line);

    /// <summary>The PowerShell code blocks of a markdown page (fenced <c>powershell</c> blocks; <c>PS&gt;</c> prompts removed).</summary>
    public static string CodeOfMarkdown(string markdown)
    {
        var code = new StringBuilder();
        bool inside = false;
        foreach (string raw in markdown.Split('\n'))
        {
            string line = raw.TrimEnd('\r');
            if (line.TrimStart().StartsWith("```", StringComparison.Ordinal))
            {
                string language = line.Trim().TrimStart('`').Trim();
                inside = !inside && language.Equals("powershell", StringComparison.OrdinalIgnoreCase);

                // A statement never runs across two blocks.
                code.Append('\n');
                continue;
            }

            // Lines outside code blocks stay as empty lines, so that line numbers still point into the page.
            code.Append(inside ? PromptRegex().Replace(line, "") : "").Append('\n');
        }

        return code.ToString();
    }

    /// <summary>Every statement that starts with a word that looks like a command (Verb-Noun), with its parameters.</summary>
    public static IEnumerable<Invocation> Invocations(string source, string code)
    {
        List<Token> tokens = Tokenize(code);
        for (int i = 0; i < tokens.Count; i++)
        {
            Token token = tokens[i];
            if (token.Kind != Kind.Word || !CommandNameRegex().IsMatch(token.Text) || !InCommandPosition(tokens, i))
            {
                continue;
            }

            var parameters = new List<string>();
            int depth = 0;
            for (int j = i + 1; j < tokens.Count; j++)
            {
                Token next = tokens[j];
                if (next.Kind == Kind.Open)
                {
                    depth++;
                }
                else if (next.Kind == Kind.Close)
                {
                    if (depth == 0)
                    {
                        break;
                    }

                    depth--;
                }
                else if (depth == 0 && next.Kind == Kind.Separator)
                {
                    break;
                }
                else if (depth == 0 && next.Kind == Kind.Word && next.Text.Length > 1 && next.Text[0] == '-' && char.IsAsciiLetter(next.Text[1]))
                {
                    string name = next.Text[1..];
                    int colon = name.IndexOf(':', StringComparison.Ordinal);
                    parameters.Add(colon >= 0 ? name[..colon] : name);
                }
            }

            yield return new Invocation(source, token.Line, token.Text, parameters);
        }
    }

    /// <summary>The names of the functions the code defines (helpers of a test suite, say).</summary>
    public static IReadOnlySet<string> DefinedFunctions(string code) =>
        FunctionRegex().Matches(code).Select(m => m.Groups[1].Value).ToHashSet(StringComparer.OrdinalIgnoreCase);

    /// <summary>The common parameters every cmdlet takes, with their aliases.</summary>
    public static readonly IReadOnlySet<string> CommonParameters = new HashSet<string>(StringComparer.OrdinalIgnoreCase)
    {
        "Verbose", "vb", "Debug", "db", "ErrorAction", "ea", "WarningAction", "wa", "InformationAction", "infa",
        "ProgressAction", "proga", "ErrorVariable", "ev", "WarningVariable", "wv", "InformationVariable", "iv",
        "OutVariable", "ov", "OutBuffer", "ob", "PipelineVariable", "pv",
    };

    /// <summary>Why a parameter name does not fit the cmdlet, or null when it does.</summary>
    public static string? Check(CmdletMetadata cmdlet, string parameter)
    {
        if (CommonParameters.Contains(parameter))
        {
            return null;
        }

        if (cmdlet.SupportsShouldProcess && (parameter.Equals("WhatIf", StringComparison.OrdinalIgnoreCase) || parameter.Equals("Confirm", StringComparison.OrdinalIgnoreCase)))
        {
            return null;
        }

        if (cmdlet.Parameters.Any(p => p.Name.Equals(parameter, StringComparison.OrdinalIgnoreCase)
            || p.Aliases.Any(a => a.Equals(parameter, StringComparison.OrdinalIgnoreCase))))
        {
            return null;
        }

        var prefixed = cmdlet.Parameters.Where(p => p.Name.StartsWith(parameter, StringComparison.OrdinalIgnoreCase)).Select(p => p.Name).ToList();
        return prefixed.Count == 1
            ? $"-{parameter} abbreviates -{prefixed[0]}: scripts and examples spell parameters out"
            : prefixed.Count > 1
                ? $"-{parameter} is ambiguous ({string.Join(", ", prefixed.Select(p => "-" + p))})"
                : $"{cmdlet.Name} has no parameter -{parameter} (it has {string.Join(", ", cmdlet.Parameters.Select(p => "-" + p.Name))})";
    }

    private static bool InCommandPosition(List<Token> tokens, int index)
    {
        if (index == 0)
        {
            return true;
        }

        Token previous = tokens[index - 1];
        return previous.Kind is Kind.Separator or Kind.Open or Kind.Assignment
            || (previous.Kind == Kind.Other && previous.Text is "&" or ".");
    }

    private static List<Token> Tokenize(string code)
    {
        var tokens = new List<Token>();
        int line = 1;
        int i = 0;
        while (i < code.Length)
        {
            char c = code[i];
            if (c == '\n')
            {
                tokens.Add(new Token(Kind.Separator, "\n", line));
                line++;
                i++;
            }
            else if (c == '`' && i + 1 < code.Length && (code[i + 1] == '\n' || (code[i + 1] == '\r' && i + 2 < code.Length && code[i + 2] == '\n')))
            {
                // A line continuation: the statement goes on.
                i += code[i + 1] == '\r' ? 3 : 2;
                line++;
            }
            else if (char.IsWhiteSpace(c))
            {
                i++;
            }
            else if (c == '<' && At(code, i, "<#"))
            {
                int end = code.IndexOf("#>", i + 2, StringComparison.Ordinal);
                end = end < 0 ? code.Length : end + 2;
                line += Count(code, i, end, '\n');
                i = end;
            }
            else if (c == '#')
            {
                while (i < code.Length && code[i] != '\n')
                {
                    i++;
                }
            }
            else if (c == '@' && i + 1 < code.Length && code[i + 1] is '\'' or '"' && i + 2 < code.Length && code[i + 2] is '\n' or '\r')
            {
                // A here-string ends at its quote and @ at the start of a line.
                string terminator = "\n" + code[i + 1] + "@";
                int end = code.IndexOf(terminator, i + 2, StringComparison.Ordinal);
                end = end < 0 ? code.Length : end + terminator.Length;
                line += Count(code, i, end, '\n');
                tokens.Add(new Token(Kind.String, "", line));
                i = end;
            }
            else if (c is '\'' or '"')
            {
                int start = i;
                i++;
                while (i < code.Length)
                {
                    if (code[i] == c)
                    {
                        // Doubled quotes are an escaped quote.
                        if (i + 1 < code.Length && code[i + 1] == c)
                        {
                            i += 2;
                            continue;
                        }

                        i++;
                        break;
                    }

                    if (c == '"' && code[i] == '`')
                    {
                        i++;
                    }

                    i++;
                }

                line += Count(code, start, Math.Min(i, code.Length), '\n');
                tokens.Add(new Token(Kind.String, "", line));
            }
            else if (c is '(' or '{' or '[' || (c is '$' or '@' && i + 1 < code.Length && code[i + 1] is '(' or '{'))
            {
                int length = c is '$' or '@' ? 2 : 1;
                if (c == '$' && code[i + 1] == '{')
                {
                    // ${variable name}: a variable, not a block.
                    int end = code.IndexOf('}', i);
                    i = end < 0 ? code.Length : end + 1;
                    tokens.Add(new Token(Kind.Other, "$var", line));
                    continue;
                }

                tokens.Add(new Token(Kind.Open, code.Substring(i, length), line));
                i += length;
            }
            else if (c is ')' or '}' or ']')
            {
                tokens.Add(new Token(Kind.Close, c.ToString(), line));
                i++;
            }
            else if (c is ';' || (c == '|' && !At(code, i, "||")))
            {
                tokens.Add(new Token(Kind.Separator, c.ToString(), line));
                i++;
            }
            else if (At(code, i, "&&") || At(code, i, "||"))
            {
                tokens.Add(new Token(Kind.Separator, code.Substring(i, 2), line));
                i += 2;
            }
            else if (c == '=' || (c is '+' or '-' or '*' or '/' or '%' && i + 1 < code.Length && code[i + 1] == '=' && !IsWordChar(i > 0 ? code[i - 1] : ' ')))
            {
                int length = c == '=' ? 1 : 2;
                tokens.Add(new Token(Kind.Assignment, code.Substring(i, length), line));
                i += length;
            }
            else if (c is ',' or '&' or '.' && (i + 1 >= code.Length || !IsWordChar(code[i + 1]) || c == ','))
            {
                tokens.Add(new Token(Kind.Other, c.ToString(), line));
                i++;
            }
            else
            {
                // A bare word: runs to whitespace or a character that ends one.
                int start = i;
                while (i < code.Length && !char.IsWhiteSpace(code[i]) && code[i] is not ('(' or ')' or '{' or '}' or '[' or ']' or ';' or '|' or ',' or '\'' or '"' or '='))
                {
                    i++;
                }

                if (i == start)
                {
                    tokens.Add(new Token(Kind.Other, code[i].ToString(), line));
                    i++;
                    continue;
                }

                tokens.Add(new Token(Kind.Word, code[start..i], line));
            }
        }

        return tokens;
    }

    private static bool IsWordChar(char c) => char.IsLetterOrDigit(c) || c is '_' or '-' or '$';

    private static bool At(string code, int index, string text) => string.CompareOrdinal(code, index, text, 0, text.Length) == 0;

    private static int Count(string code, int start, int end, char c)
    {
        int n = 0;
        for (int i = start; i < end; i++)
        {
            n += code[i] == c ? 1 : 0;
        }

        return n;
    }

    [GeneratedRegex(@"(?im)^\s*function\s+(?:global:|script:)?([\w-]+)")]
    private static partial Regex FunctionRegex();

    [GeneratedRegex(@"^\s*PS[^>]*>\s?")]
    private static partial Regex PromptRegex();

    [GeneratedRegex(@"^[A-Z][a-z]+-[A-Z][A-Za-z]+$")]
    private static partial Regex CommandNameRegex();
}
