using Microsoft.Extensions.Options;
using ZmqAspire.Client;
using ZmqAspire.Messaging;

var builder = WebApplication.CreateBuilder(args);
builder.AddServiceDefaults();

builder.Services.AddOptions<TunnelSettings>().BindConfiguration(TunnelSettings.Section).ValidateOnStart();
builder.Services.AddSingleton<IValidateOptions<TunnelSettings>, TunnelSettings.Validator>();
builder.Services.AddOptions<RequestClientOptions>().BindConfiguration(RequestClientOptions.Section)
    .Validate(o => o.CurveServerKey is null || CurveSecurity.IsPublicKey(o.CurveServerKey), "Client:CurveServerKey is not a CURVE public key (40 characters of Z85).")
    // Removed, not ignored: whoever set it expects heartbeats it would no longer get.
    .Validate<IConfiguration>(
        (_, config) => config["Client:HeartbeatInterval"] is null,
        "Client:HeartbeatInterval was removed: ZMTP heartbeats drop a REQ socket's connection with NetMQ 4.0.4.5 (docs/reliability.md); unset it.")
    .ValidateOnStart();
builder.Services.AddSingleton<TunnelState>();
builder.Services.AddSingleton<ClientCommands>();
builder.Services.AddSingleton<RequestLoop>();
builder.Services.AddHealthChecks().AddCheck<TunnelHealthCheck>("ssh-tunnel");
builder.Services.AddHostedService<RequestClient>();

var app = builder.Build();
app.MapHealthChecks("/health", new() { ResponseWriter = HealthReportWriter.WriteAsync });
app.MapHealthChecks("/alive", new() { Predicate = check => check.Tags.Contains(ServiceDefaultsExtensions.LiveTag) });
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
