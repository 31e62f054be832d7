namespace ZmqAspire.Docs.Tests;

/// <summary>The Markdown files whose code blocks are checked: README.md, docs/*.md and the packages' READMEs (src/*/README.md, shown on NuGet).</summary>
public static class DocsFiles
{
    /// <summary>Gets the repository root: the nearest directory above the test's output holding ZmqAspire.sln.</summary>
    public static string Root { get; } = FindRoot();

    /// <summary>Gets the checked files, relative to <see cref="Root"/>, with '/' separators.</summary>
    public static IReadOnlyList<string> Files =>
        [
            "README.md",
            .. Directory.GetFiles(Path.Combine(Root, "docs"), "*.md")
                .Select(f => "docs/" + Path.GetFileName(f))
                .Order(StringComparer.Ordinal),
            .. Directory.GetDirectories(Path.Combine(Root, "src"))
                .Where(d => File.Exists(Path.Combine(d, "README.md")))
                .Select(d => "src/" + Path.GetFileName(d) + "/README.md")
                .Order(StringComparer.Ordinal),
        ];

    /// <summary>Reads every block of one file.</summary>
    /// <exception cref="FormatException">A marker is malformed or misplaced.</exception>
    public static IReadOnlyList<CodeBlock> Blocks(string file) =>
        CodeBlock.Parse(file, File.ReadAllText(Path.Combine(Root, file)));

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "ZmqAspire.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException($"No ZmqAspire.sln above {AppContext.BaseDirectory}.");
    }
}
