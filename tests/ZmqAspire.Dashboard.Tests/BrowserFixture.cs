using Microsoft.Playwright;

namespace ZmqAspire.Dashboard.Tests;

/// <summary>
/// Headless Debian chromium (<c>/usr/bin/chromium</c>, installed by <c>eng/setup.sh --with-browser</c>)
/// driven by Playwright for .NET. Playwright's own browser download is never used, so no
/// <c>playwright install</c> step exists. Screenshots go to <see cref="ArtifactsDirectory"/>.
/// </summary>
public sealed class BrowserFixture : IAsyncLifetime
{
    private const string ChromiumPath = "/usr/bin/chromium";
    private IPlaywright? _playwright;
    private IBrowser? _browser;

    /// <summary>Gets the folder for screenshots: <c>artifacts/test-results/dashboard</c> in the repository.</summary>
    public string ArtifactsDirectory { get; } = Path.Combine(RepositoryRoot(), "artifacts", "test-results", "dashboard");

    public async Task InitializeAsync()
    {
        Assert.True(File.Exists(ChromiumPath), $"{ChromiumPath} is missing: run eng/setup.sh --with-browser");
        Directory.CreateDirectory(ArtifactsDirectory);
        // Telemetry reaches the dashboard every second or so, and its pages update live: wait for it.
        Assertions.SetDefaultExpectTimeout(30_000);
        _playwright = await Playwright.CreateAsync();
        _browser = await _playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = ChromiumPath,
            Headless = true,
            // No sandbox: the tests run as root, which chromium's sandbox refuses. The rest keeps
            // chromium from calling home (updates, sync, field trials): tests talk to loopback only.
            Args = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
        });
    }

    /// <summary>Opens a page in a fresh context, logged in to the dashboard with its login URL.</summary>
    public async Task<IPage> LogInAsync(Uri loginUrl)
    {
        var context = await _browser!.NewContextAsync(new BrowserNewContextOptions { ViewportSize = new ViewportSize { Width = 1600, Height = 900 } });
        context.SetDefaultTimeout(30_000);
        var page = await context.NewPageAsync();
        await page.GotoAsync(loginUrl.ToString());
        // The login page takes the token, sets the auth cookie and goes on to Resources.
        await page.WaitForURLAsync(url => !url.Contains("/login", StringComparison.Ordinal));
        return page;
    }

    /// <summary>Saves a full-page screenshot and returns its path.</summary>
    public async Task<string> ScreenshotAsync(IPage page, string name)
    {
        var path = Path.Combine(ArtifactsDirectory, name + ".png");
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = path, FullPage = true });
        return path;
    }

    public async Task DisposeAsync()
    {
        if (_browser is not null)
        {
            await _browser.DisposeAsync();
        }

        _playwright?.Dispose();
    }

    internal static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "ZmqAspire.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("repository root (ZmqAspire.sln) not found above " + AppContext.BaseDirectory);
    }
}
