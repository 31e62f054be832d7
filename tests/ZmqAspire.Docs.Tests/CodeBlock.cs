using System.Text;
using System.Text.RegularExpressions;

namespace ZmqAspire.Docs.Tests;

/// <summary>
/// A fenced code block of a Markdown file, with the sample marker written before it (if any).
/// </summary>
/// <param name="File">The Markdown file, relative to the repository root (e.g. <c>docs/patterns.md</c>).</param>
/// <param name="Line">The 1-based line of the opening fence.</param>
/// <param name="Language">The info string's first word, lower case (<c>csharp</c>, <c>python</c>, ...); empty for none.</param>
/// <param name="Code">The block's content, without the fences.</param>
/// <param name="Marker">The <c>&lt;!-- sample: ... --&gt;</c> comment before the block, or null.</param>
public sealed record CodeBlock(string File, int Line, string Language, string Code, SampleMarker? Marker)
{
    /// <summary>Gets how the block is named in test names and messages: <c>docs/patterns.md:25</c>.</summary>
    public string Name => $"{File}:{Line}";

    /// <summary>
    /// Reads every fenced block (<c>```</c> or <c>~~~</c>, CommonMark) of <paramref name="markdown"/>.
    /// A marker belongs to a block when it is the last non-blank line before the opening fence;
    /// a line starting with <c>&lt;!-- sample:</c> anywhere else is an error (it marks nothing).
    /// </summary>
    /// <exception cref="FormatException">A marker is malformed or marks no block, or a fence is never closed.</exception>
    public static IReadOnlyList<CodeBlock> Parse(string file, string markdown)
    {
        var lines = markdown.ReplaceLineEndings("\n").Split('\n');
        var blocks = new List<CodeBlock>();
        SampleMarker? pending = null;
        var pendingLine = 0;
        for (var i = 0; i < lines.Length; i++)
        {
            var line = lines[i];
            var fence = Fence.Match(line);
            if (fence.Success)
            {
                var (code, close) = ReadBody(lines, i, fence.Groups["indent"].Value.Length, fence.Groups["fence"].Value, file);
                var language = fence.Groups["info"].Value.Trim().Split(' ', 2)[0].ToLowerInvariant();
                blocks.Add(new CodeBlock(file, i + 1, language, code, pending));
                pending = null;
                i = close;
                continue;
            }

            if (line.TrimStart().StartsWith(SampleMarker.Prefix, StringComparison.Ordinal))
            {
                if (pending is not null)
                {
                    throw new FormatException($"{file}:{pendingLine}: this sample marker is followed by another marker, not by a code block.");
                }

                pending = SampleMarker.Parse(line.Trim(), $"{file}:{i + 1}");
                pendingLine = i + 1;
            }
            else if (pending is not null && line.Trim().Length > 0)
            {
                throw new FormatException($"{file}:{pendingLine}: a sample marker must come right before its code block (only blank lines between).");
            }
        }

        return pending is null
            ? blocks
            : throw new FormatException($"{file}:{pendingLine}: this sample marker is followed by no code block.");
    }

    // At least three backticks or tildes, then the info string. Any indentation: a fence inside a
    // list item is indented further than CommonMark's three spaces, and must not escape the check.
    private static readonly Regex Fence = new(@"^(?<indent> *)(?<fence>`{3,}|~{3,})(?<info>[^`]*)$", RegexOptions.CultureInvariant);

    private static (string Code, int CloseLine) ReadBody(string[] lines, int open, int indent, string fence, string file)
    {
        var body = new StringBuilder();
        for (var j = open + 1; j < lines.Length; j++)
        {
            var trimmed = lines[j].Trim();
            if (trimmed.Length >= fence.Length && trimmed.All(c => c == fence[0]))
            {
                return (body.ToString(), j);
            }

            // As CommonMark does: the fence's indentation is removed from each line (Python cares).
            var line = lines[j];
            var strip = line.TakeWhile(c => c == ' ').Count();
            body.Append(line[Math.Min(strip, indent)..]).Append('\n');
        }

        throw new FormatException($"{file}:{open + 1}: the code block is never closed.");
    }
}
