using Microsoft.AspNetCore.HttpLogging;
using Microsoft.Extensions.Options;
using ZmqAspire.Client;
using ZmqAspire.Messaging;
using ZmqAspire.Tunneling;

var builder = WebApplication.CreateBuilder(args);
builder.AddServiceDefaults();

// The tunnel to the server (ConnectionStrings:server, set by the AppHost's WithReference or the
// deployment): its health check (ZmqAspire.SshTunnel_server) reports the session, the forward and
// the requests this client reports to it (tunnel.Health).
builder.AddSshTunnel("server");
builder.Services.AddOptions<RequestClientOptions>().BindConfiguration(RequestClientOptions.Section)
    .Validate(o => o.CurveServerKey is null || CurveSecurity.IsPublicKey(o.CurveServerKey), "Client:CurveServerKey is not a CURVE public key (40 characters of Z85).")
    // Removed, not ignored: whoever set it expects heartbeats it would no longer get.
    .Validate<IConfiguration>(
        (_, config) => config["Client:HeartbeatInterval"] is null,
        "Client:HeartbeatInterval was removed: ZMTP heartbeats drop a REQ socket's connection with NetMQ 4.0.4.5 (docs/reliability.md); unset it.")
    .ValidateOnStart();
builder.Services.AddSingleton(services => services.GetRequiredService<SshTunnel>().Health);
builder.Services.AddSingleton<ClientCommands>();
builder.Services.AddSingleton<RequestLoop>();
builder.Services.AddHostedService<RequestClient>();
// Trimmed, the client has no reflection-based JSON: the command answers' metadata, with the
// ProblemDetails of a 503 (without it the reason was lost: the answer failed while being written).
builder.Services.ConfigureHttpJsonOptions(o => o.SerializerOptions.TypeInfoResolverChain.Insert(0, CommandJsonContext.Default));

// The request log: one entry per request from HTTP logging, which health probes opt out of by
// endpoint (HttpLoggingFields.None below): the container engine and the AppHost probe /health
// every few seconds, and those lines buried the request lines a user reads. ASP.NET Core's own
// per-request lines ("Request starting/finished", "Executing endpoint") cannot be filtered by
// path: they go to Warning, as in ASP.NET Core's templates; HTTP logging's category stays on.
builder.Logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning);
builder.Logging.AddFilter("Microsoft.AspNetCore.HttpLogging", LogLevel.Information);
builder.Services.AddHttpLogging(o =>
{
    o.LoggingFields = HttpLoggingFields.RequestMethod | HttpLoggingFields.RequestPath | HttpLoggingFields.ResponseStatusCode | HttpLoggingFields.Duration;
    o.CombineLogs = true;
});

var app = builder.Build();
app.UseHttpLogging();
app.MapHealthChecks("/health", new() { ResponseWriter = HealthReportWriter.WriteAsync }).WithHttpLogging(HttpLoggingFields.None);
app.MapHealthChecks("/alive", new() { Predicate = check => check.Tags.Contains(ServiceDefaultsExtensions.LiveTag) }).WithHttpLogging(HttpLoggingFields.None);
try
{
    app.MapClientCommands(app.Services.GetRequiredService<IOptions<RequestClientOptions>>().Value.CommandToken);
    app.Run();
    return 0;
}
catch (OptionsValidationException ex)
{
    // A configuration error: each message names its setting. Said once, plainly, with exit code 2
    // (not an unhandled exception's abort and stack trace), for whoever reads the container's log.
    Console.Error.WriteLine($"ZmqAspire.Client cannot start: {string.Join(" ", ex.Failures)}");
    return 2;
}
