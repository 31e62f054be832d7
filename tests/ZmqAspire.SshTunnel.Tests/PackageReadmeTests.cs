using System.Text.RegularExpressions;

namespace ZmqAspire.SshTunnel.Tests;

/// <summary>
/// The package README is not among the files tests/ZmqAspire.Docs.Tests runs (README.md and
/// docs/*.md): each of its C# samples must be, word for word, a sample of
/// docs/client-integration.md, which those tests compile and run against a real sshd.
/// </summary>
public sealed partial class PackageReadmeTests
{
    [Fact]
    public void EveryCSharpSampleOfThePackageReadmeIsCheckedInTheDocs()
    {
        var root = RepositoryRoot();
        var readme = File.ReadAllText(Path.Combine(root, "src", "ZmqAspire.SshTunnel", "README.md"));
        var docs = File.ReadAllText(Path.Combine(root, "docs", "client-integration.md"));
        var docsBlocks = CSharpBlocks(docs).ToHashSet(StringComparer.Ordinal);

        var samples = CSharpBlocks(readme).ToList();
        Assert.NotEmpty(samples);
        Assert.All(samples, sample => Assert.True(docsBlocks.Contains(sample), $"This sample of the package README is not a sample of docs/client-integration.md:\n{sample}"));
    }

    private static IEnumerable<string> CSharpBlocks(string markdown) =>
        CSharpBlock().Matches(markdown.ReplaceLineEndings("\n")).Select(m => m.Groups["code"].Value);

    private static string RepositoryRoot()
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

    [GeneratedRegex("^```csharp\\n(?<code>.*?)^```$", RegexOptions.Singleline | RegexOptions.Multiline | RegexOptions.CultureInvariant)]
    private static partial Regex CSharpBlock();
}
