using Xunit.Abstractions;

namespace ZmqAspire.Docs.Tests;

/// <summary>
/// "Every code sample in README.md and docs/ is compiled and run by a test": one test case per
/// fenced block that names a language, done as its marker says (docs/README.md). A new block
/// without a marker fails here, and so does a sample that does not compile, throws, exits
/// non-zero or hangs.
/// </summary>
[Collection(DocsCollection.Name)]
public sealed class DocSampleTests(DocsSshd sshd, ITestOutputHelper output)
{
    /// <summary>Gets every block with a language (or a marker): blocks without one are diagrams and output, not code.</summary>
    public static TheoryData<string, int> Samples()
    {
        var data = new TheoryData<string, int>();
        foreach (var file in DocsFiles.Files)
        {
            foreach (var block in DocsFiles.Blocks(file).Where(b => b.Language.Length > 0 || b.Marker is not null))
            {
                data.Add(file, block.Line);
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Samples))]
    public void Sample_does_what_its_marker_says(string file, int line)
    {
        var blocks = DocsFiles.Blocks(file);
        var block = blocks.Single(b => b.Line == line);

        string result;
        try
        {
            result = new SampleCheck(sshd, DocsFiles.Root).Check(block, blocks);
        }
        catch (Exception) when (block.Marker?.Action == SampleAction.Run)
        {
            output.WriteLine(sshd.LogTail());
            throw;
        }

        output.WriteLine($"{block.Name} ({block.Language}): {result}");
    }

    [Fact]
    public void The_docs_have_csharp_samples_to_check()
    {
        // Guards the extraction itself: a parser that found nothing would make every case vanish.
        var csharp = DocsFiles.Files.SelectMany(DocsFiles.Blocks).Where(b => b.Language == "csharp").ToList();

        Assert.Contains(csharp, b => b.File == "README.md");
        Assert.Contains(csharp, b => b.File == "docs/patterns.md");
        Assert.True(csharp.Count >= 5, $"only {csharp.Count} C# blocks found");
    }
}
