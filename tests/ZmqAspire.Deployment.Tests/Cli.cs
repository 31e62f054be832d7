using System.Diagnostics;
using System.Text;

namespace ZmqAspire.Deployment.Tests;

/// <summary>The outcome of a command: exit code and both streams.</summary>
internal sealed record CliResult(int ExitCode, string StandardOutput, string StandardError)
{
    public string Output => StandardOutput + StandardError;
}

/// <summary>Runs command-line tools (docker, docker-compose, python3, dotnet) with no terminal: stdin is closed, so nothing can prompt.</summary>
internal static class Cli
{
    public static async Task<CliResult> RunAsync(
        string fileName,
        IEnumerable<string> arguments,
        IDictionary<string, string?>? environment = null,
        TimeSpan? timeout = null,
        string? workingDirectory = null,
        string? standardInput = null)
    {
        var info = new ProcessStartInfo(fileName)
        {
            UseShellExecute = false,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = workingDirectory ?? Repo.Root,
        };
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        foreach (var (name, value) in environment ?? new Dictionary<string, string?>())
        {
            if (value is null)
            {
                info.Environment.Remove(name);
            }
            else
            {
                info.Environment[name] = value;
            }
        }

        using var process = Process.Start(info) ?? throw new InvalidOperationException($"could not start {fileName}");
        var stdout = new StringBuilder();
        var stderr = new StringBuilder();
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) { lock (stdout) { stdout.AppendLine(e.Data); } } };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) { lock (stderr) { stderr.AppendLine(e.Data); } } };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        if (standardInput is not null)
        {
            await process.StandardInput.WriteAsync(standardInput);
        }

        process.StandardInput.Close();
        using var cts = new CancellationTokenSource(timeout ?? TimeSpan.FromMinutes(2));
        try
        {
            await process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{Describe(fileName, arguments)} did not finish in {(timeout ?? TimeSpan.FromMinutes(2)).TotalSeconds} s:\n{stdout}{stderr}");
        }

        process.WaitForExit(); // drains the output events
        return new CliResult(process.ExitCode, stdout.ToString(), stderr.ToString());
    }

    public static async Task<CliResult> RunCheckedAsync(
        string fileName, IEnumerable<string> arguments, IDictionary<string, string?>? environment = null, TimeSpan? timeout = null)
    {
        var result = await RunAsync(fileName, arguments, environment, timeout);
        if (result.ExitCode != 0)
        {
            throw new InvalidOperationException($"{Describe(fileName, arguments)} exited with {result.ExitCode}:\n{result.Output}");
        }

        return result;
    }

    private static string Describe(string fileName, IEnumerable<string> arguments) => $"'{fileName} {string.Join(' ', arguments)}'";
}

/// <summary>Paths in the repository.</summary>
internal static class Repo
{
    public static string Root { get; } = Find();

    public static string ComposeFile => Path.Combine(Root, "deploy", "compose", "docker-compose.yml");

    public static string InteropDirectory => Path.Combine(Root, "tests", "ZmqAspire.Deployment.Tests", "interop");

    private static string Find()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "ZmqAspire.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("ZmqAspire.sln not found above " + AppContext.BaseDirectory);
    }
}
