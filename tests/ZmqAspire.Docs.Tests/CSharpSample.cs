using System.Reflection;
using System.Runtime.ExceptionServices;
using System.Text;
using System.Text.RegularExpressions;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;

namespace ZmqAspire.Docs.Tests;

/// <summary>
/// Compiles a C# sample in memory with Roslyn, as the top-level statements of a console program
/// (so <c>await</c> and <c>using var</c> work as in a real Program.cs), against the assemblies
/// this test runs with (.NET, NetMQ, ZmqAspire.Tunneling, ZmqAspire.Messaging), and runs it.
/// </summary>
public static partial class CSharpSample
{
    /// <summary>The namespaces every sample may use without a <c>using</c> directive (listed in docs/README.md).</summary>
    public static readonly string[] ImplicitUsings =
    [
        "System", "System.Collections.Generic", "System.IO", "System.Linq", "System.Net", "System.Threading",
        "System.Threading.Tasks", "NetMQ", "NetMQ.Sockets", "ZmqAspire.Tunneling", "ZmqAspire.Messaging",
    ];

    private static readonly Lazy<MetadataReference[]> References = new(LoadReferences);

    /// <summary>Compiles the sample; throws with every error and warning, each with the line of the Markdown file it is on.</summary>
    /// <param name="name">The sample's name, <c>docs/patterns.md:25</c>.</param>
    /// <param name="sources">The code, in order: the blocks named by <c>after=</c>, then the sample; each with its first line in the Markdown file.</param>
    /// <returns>The compiled program.</returns>
    /// <exception cref="InvalidOperationException">The sample does not compile cleanly.</exception>
    public static Assembly Compile(string name, IReadOnlyList<(string Code, string File, int FirstLine)> sources)
    {
        // using directives must come before any statement: lift those of every part to the top.
        var usings = new StringBuilder();
        foreach (var ns in ImplicitUsings)
        {
            usings.Append("using ").Append(ns).Append(";\n");
        }

        var body = new StringBuilder();
        foreach (var (code, file, firstLine) in sources)
        {
            // #line maps diagnostics back to the Markdown file's own lines.
            body.Append("#line ").Append(firstLine).Append(" \"").Append(file).Append("\"\n");
            foreach (var line in code.Split('\n'))
            {
                if (UsingDirective().IsMatch(line))
                {
                    usings.Append(line).Append('\n');
                    body.Append('\n'); // keep the line numbers
                }
                else
                {
                    body.Append(line).Append('\n');
                }
            }
        }

        var tree = CSharpSyntaxTree.ParseText(usings.Append(body).ToString(), new CSharpParseOptions(LanguageVersion.Latest), path: name);
        var compilation = CSharpCompilation.Create(
            "DocSample_" + Guid.NewGuid().ToString("N"),
            [tree],
            References.Value,
            new CSharpCompilationOptions(OutputKind.ConsoleApplication, nullableContextOptions: NullableContextOptions.Enable)
                // As the .NET SDK does (its default NoWarn): a library built for an older framework
                // (Aspire.Hosting targets net8.0) binds to this runtime's newer assemblies.
                .WithSpecificDiagnosticOptions(new Dictionary<string, ReportDiagnostic> { ["CS1701"] = ReportDiagnostic.Suppress, ["CS1702"] = ReportDiagnostic.Suppress }));
        using var image = new MemoryStream();
        var result = compilation.Emit(image);
        var problems = result.Diagnostics
            .Where(d => d.Severity is DiagnosticSeverity.Error or DiagnosticSeverity.Warning)
            .Select(d => d.ToString())
            .ToArray();
        if (!result.Success || problems.Length > 0)
        {
            // Warnings fail too: a sample is code people copy.
            throw new InvalidOperationException($"The C# sample {name} does not compile cleanly:\n{string.Join('\n', problems)}");
        }

        return Assembly.Load(image.ToArray());
    }

    /// <summary>Runs the program's entry point on its own thread; rethrows what the sample throws.</summary>
    /// <param name="program">The compiled sample.</param>
    /// <param name="timeout">How long the sample may take (a receive that never returns is a failure).</param>
    /// <exception cref="TimeoutException">The sample did not finish in time.</exception>
    public static void Run(Assembly program, TimeSpan timeout)
    {
        var entry = program.EntryPoint ?? throw new InvalidOperationException("the sample has no entry point");
        Exception? thrown = null;
        var thread = new Thread(() =>
        {
            try
            {
                entry.Invoke(null, entry.GetParameters().Length == 0 ? null : [Array.Empty<string>()]);
            }
            catch (TargetInvocationException ex) when (ex.InnerException is not null)
            {
                thrown = ex.InnerException;
            }
        })
        { IsBackground = true, Name = "docs sample" };
        thread.Start();
        if (!thread.Join(timeout))
        {
            // The thread is left blocked (a background thread: it does not keep the test host alive).
            throw new TimeoutException($"The sample did not finish within {timeout.TotalSeconds} s (a receive with no answer?).");
        }

        if (thrown is not null)
        {
            ExceptionDispatchInfo.Capture(thrown).Throw();
        }
    }

    [GeneratedRegex(@"^using\s+(static\s+)?[A-Za-z_][\w.]*(\s*=\s*[\w.<>]+)?\s*;\s*$", RegexOptions.CultureInvariant)]
    private static partial Regex UsingDirective();

    private static MetadataReference[] LoadReferences()
    {
        // The test host's trusted platform assemblies: the framework and every assembly of this
        // test project's deps.json (NetMQ, SSH.NET, ZmqAspire.*), as a real project would see them.
        var paths = ((string)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES")!).Split(Path.PathSeparator);
        return [.. paths.Where(p => p.EndsWith(".dll", StringComparison.Ordinal)).Select(p => MetadataReference.CreateFromFile(p))];
    }
}
