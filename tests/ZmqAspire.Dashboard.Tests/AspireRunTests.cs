using System.Collections.Concurrent;
using System.Text.RegularExpressions;
using CliWrap;
using CliWrap.Buffered;
using Microsoft.Playwright;
using ZmqAspire.Testing;
using static Microsoft.Playwright.Assertions;

namespace ZmqAspire.Dashboard.Tests;

/// <summary>
/// The AppHost started as a newcomer starts it, from the repository root with its launch profile
/// and the dashboard's fixed ports, in a shell that sourced eng/dev-certs-env.sh (as eng/run.sh
/// does, and a new login shell after eng/setup.sh): by `dotnet run` (eng/run.sh's last step) and
/// by `aspire run` (README "aspire run", the Aspire CLI being the local tool in dotnet-tools.json).
/// Issue #21: no certificate warning in the output (neither the AppHost's nor the CLI's partial
/// trust), no banner on the dashboard, and no untracked file left behind (the aspire.config.json
/// that the CLI reads is committed). Why not DashboardFixture: the testing builder's dashboard
/// shows no certificate banner even when no certificate is trusted, so it could not fail.
/// </summary>
[Collection(AspireRunCollection.Name)]
public sealed partial class AspireRunTests(BrowserFixture browser)
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromMinutes(6);

    [Theory]
    [InlineData("dotnet run --project ZmqAspire.AppHost --no-build")]
    [InlineData("dotnet aspire run --non-interactive")]
    public async Task Starts_with_no_certificate_warning_banner_or_leftover(string command)
    {
        var root = BrowserFixture.RepositoryRoot();
        var untrackedBefore = await UntrackedAsync(root);
        var imagesBefore = await BuiltImages.InEngineAsync();
        var keys = Directory.CreateTempSubdirectory("zmqaspire-aspire-run-keys-").FullName;
        var output = new ConcurrentQueue<string>();
        var loginUrl = new TaskCompletionSource<Uri>(TaskCreationOptions.RunContinuationsAsynchronously);

        // setsid: its own process group, so the test can press Ctrl+C as a terminal does (SIGINT
        // to the whole group: the CLI, the AppHost, DCP). env --default-signal=INT: SIGINT handled
        // as in a terminal's foreground job, even when this test runs under a shell's background
        // job, which starts with SIGINT ignored (the AppHost then never stopped: 9 min, a CI run's).
        var script = $". eng/dev-certs-env.sh && exec {command} -- " +
            $"--ZmqAspire:BastionPort=0 --ZmqAspire:KeyDirectory={keys} --ZmqAspire:RequestCount=3";
        using var forceful = new CancellationTokenSource(StartTimeout + TimeSpan.FromMinutes(3));
        var run = Cli.Wrap("setsid").WithArguments(["env", "--default-signal=INT", "bash", "-c", script])
            .WithWorkingDirectory(root)
            .WithValidation(CommandResultValidation.None)
            .WithStandardOutputPipe(PipeTarget.ToDelegate(line => Collect(line, output, loginUrl)))
            .WithStandardErrorPipe(PipeTarget.ToDelegate(line => Collect(line, output, loginUrl)))
            .ExecuteAsync(forceful.Token);
        try
        {
            var url = await loginUrl.Task.WaitAsync(StartTimeout);
            var page = await browser.LogInAsync(url);
            try
            {
                // The client row: the resources have rendered, and with them any notification.
                var clientRow = page.GetByRole(AriaRole.Row).Filter(new() { HasText = "client" }).First;
                if (!await VisibleWithinAsync(clientRow, 120_000) && await page.GetByText("An unhandled error has occurred.").IsVisibleAsync())
                {
                    // The dashboard's Blazor page failed before any resource came (seen once in a CI
                    // run under `aspire run`: "No resources found", "An unhandled error has occurred.
                    // Reload"). Its own bar asks for a reload, as a user would do: once.
                    await page.ReloadAsync();
                }

                await Expect(clientRow).ToBeVisibleAsync(new() { Timeout = 120_000 });
                await browser.ScreenshotAsync(page, "started-by-" + command.Split(' ')[1]);

                // The message bar area above every page, and no banner in it (the certificate
                // one was role=alert, class dashboard-message-bar intent-error, in .top-messagebar).
                await Expect(page.Locator(".top-messagebar")).ToBeAttachedAsync();
                await Expect(page.Locator(".top-messagebar [role=alert]")).ToHaveCountAsync(0);
            }
            finally
            {
                await page.Context.CloseAsync();
            }
        }
        finally
        {
            await Cli.Wrap("kill").WithArguments(["-INT", "--", $"-{run.ProcessId}"]).WithValidation(CommandResultValidation.None).ExecuteBufferedAsync();
            await run;
            Directory.Delete(keys, recursive: true);

            // The tags this run's image builds added (the containers are gone once it exited).
            await BuiltImages.RemoveAsync([.. (await BuiltImages.InEngineAsync()).Except(imagesBefore)]);
        }

        var text = string.Join('\n', output);
        Assert.DoesNotContain("PartiallyFailedToTrustTheCertificate", text, StringComparison.Ordinal);
        Assert.DoesNotContain("not fully trusted", text, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("No trusted", text, StringComparison.OrdinalIgnoreCase); // the AppHost's warning
        Assert.True(File.Exists(Path.Combine(root, "aspire.config.json")), "aspire.config.json, the CLI's project file, is committed at the root");
        Assert.Equal(untrackedBefore, await UntrackedAsync(root));
    }

    private static async Task<bool> VisibleWithinAsync(ILocator locator, float milliseconds)
    {
        try
        {
            await locator.WaitForAsync(new() { State = WaitForSelectorState.Visible, Timeout = milliseconds });
            return true;
        }
        catch (PlaywrightException)
        {
            return false;
        }
    }

    private static void Collect(string line, ConcurrentQueue<string> output, TaskCompletionSource<Uri> loginUrl)
    {
        output.Enqueue(line);
        if (LoginUrl().Match(line) is { Success: true } match)
        {
            loginUrl.TrySetResult(new Uri(match.Value));
        }
    }

    /// <summary>The files git sees as untracked (and not ignored) under the repository root.</summary>
    private static async Task<string[]> UntrackedAsync(string root)
    {
        var result = await Cli.Wrap("git").WithArguments(["status", "--porcelain", "--untracked-files=all"])
            .WithWorkingDirectory(root).ExecuteBufferedAsync();
        return [.. result.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries).Where(l => l.StartsWith("??", StringComparison.Ordinal)).Order(StringComparer.Ordinal)];
    }

    [GeneratedRegex(@"https?://[^\s/]+/login\?t=[0-9a-f]+")]
    private static partial Regex LoginUrl();
}

/// <summary>Runs alone, after the other collections: these AppHosts use the dashboard's fixed ports.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class AspireRunCollection : ICollectionFixture<BrowserFixture>
{
    public const string Name = "AspireRun";
}
