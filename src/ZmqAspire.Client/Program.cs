using Microsoft.Extensions.Options;
using ZmqAspire.Client;

var builder = WebApplication.CreateBuilder(args);
builder.AddServiceDefaults();

builder.Services.AddOptions<TunnelSettings>().BindConfiguration(TunnelSettings.Section).ValidateOnStart();
builder.Services.AddSingleton<IValidateOptions<TunnelSettings>, TunnelSettings.Validator>();
builder.Services.AddOptions<RequestClientOptions>().BindConfiguration(RequestClientOptions.Section);
builder.Services.AddSingleton<TunnelState>();
builder.Services.AddSingleton<ClientCommands>();
builder.Services.AddSingleton<RequestLoop>();
builder.Services.AddHealthChecks().AddCheck<TunnelHealthCheck>("ssh-tunnel");
builder.Services.AddHostedService<RequestClient>();

var app = builder.Build();
app.MapHealthChecks("/health");
app.MapHealthChecks("/alive", new() { Predicate = check => check.Tags.Contains(ServiceDefaultsExtensions.LiveTag) });
app.MapClientCommands(app.Services.GetRequiredService<IOptions<RequestClientOptions>>().Value.CommandToken);
app.Run();
