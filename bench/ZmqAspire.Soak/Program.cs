using System.CommandLine;
using ZmqAspire.Soak;

// The AppHost soak (issue 5, docs/benchmarks.md): the whole AppHost (bastion and server
// containers, the client process through its SSH tunnel) under steady load, the client sending
// back-to-back requests, while the client's and the server's resident memory is sampled.
var minutes = new Option<double>("--minutes") { Description = "How long to run under load, in minutes.", DefaultValueFactory = _ => 10 };
var warmup = new Option<double>("--warmup-minutes") { Description = "Samples before this are warm-up and not part of the growth figure.", DefaultValueFactory = _ => 2 };
var sample = new Option<double>("--sample-seconds") { Description = "Seconds between samples.", DefaultValueFactory = _ => 30 };
var work = new Option<double>("--work-seconds") { Description = "The server's simulated work per request, in seconds (0: as fast as the tunnel goes).", DefaultValueFactory = _ => 0 };
var output = new Option<string>("--out") { Description = "Where to write the JSON figures.", DefaultValueFactory = _ => "artifacts/bench/soak.json" };

var root = new RootCommand("ZmqAspire AppHost soak: steady load through the SSH tunnel, client and server memory over time.")
{
    minutes, warmup, sample, work, output,
};
root.SetAction(async (parse, cancellationToken) =>
{
    var settings = new SoakSettings(
        TimeSpan.FromMinutes(parse.GetValue(minutes)),
        TimeSpan.FromMinutes(parse.GetValue(warmup)),
        TimeSpan.FromSeconds(parse.GetValue(sample)),
        parse.GetValue(work),
        parse.GetValue(output)!);
    if (settings.Duration <= settings.Warmup || settings.Sample <= TimeSpan.Zero || settings.WorkSeconds < 0)
    {
        await Console.Error.WriteLineAsync("--minutes must exceed --warmup-minutes; --sample-seconds must be > 0; --work-seconds >= 0").ConfigureAwait(false);
        return 2;
    }

    return await SoakRun.RunAsync(settings, cancellationToken).ConfigureAwait(false);
});

return await root.Parse(args).InvokeAsync().ConfigureAwait(false);
