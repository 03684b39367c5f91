use std::io::{BufRead, Write};
use std::process::ExitCode;
use std::sync::Arc;

use super::{output, Cli, ClientCmd, Command, ConfigCmd, InstanceCmd, PlanArgs, PlanCmd, TokenCmd};
use crate::audit::Actor;
use crate::blueprint::Blueprints;
use crate::config::Config;
use crate::domain::{size::SizeInput, ClientStatus};
use crate::ops::{
    ClientEdit, InstanceAction, InstanceEdit, NewClientInput, NewInstanceInput, Ops, OpsError,
    PlanEdit, PlanInput,
};
use crate::store::{InstanceRow, Store};

/// A failure already explained to the user, with its exit code.
pub struct Failure {
    pub code: u8,
    pub message: String,
}

impl Failure {
    pub fn usage(message: impl Into<String>) -> Self {
        Self {
            code: 2,
            message: message.into(),
        }
    }
}

impl From<OpsError> for Failure {
    fn from(e: OpsError) -> Self {
        Self {
            code: 1,
            message: e.to_string(),
        }
    }
}

impl From<anyhow::Error> for Failure {
    fn from(e: anyhow::Error) -> Self {
        // One line: the outermost context and its causes.
        Self {
            code: 1,
            message: format!("{e:#}"),
        }
    }
}

pub fn run(cli: Cli) -> ExitCode {
    crate::tls::install_crypto_provider();
    init_tracing(matches!(cli.command, Command::Serve));
    match dispatch(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            eprintln!("berth: {}", f.message);
            ExitCode::from(f.code)
        }
    }
}

fn init_tracing(daemon: bool) {
    let default = if daemon { "info" } else { "warn" };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

fn load_config(cli: &Cli) -> Result<Config, Failure> {
    Config::load(cli.config.as_deref(), |k| std::env::var(k).ok())
        .map_err(|e| Failure::usage(e.to_string()))
}

fn runtime() -> Result<tokio::runtime::Runtime, Failure> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure {
            code: 1,
            message: format!("starting runtime: {e}"),
        })
}

fn dispatch(cli: Cli) -> Result<(), Failure> {
    match &cli.command {
        Command::Config(ConfigCmd::Example) => {
            print!("{}", crate::config::EXAMPLE);
            return Ok(());
        }
        Command::Config(ConfigCmd::Check) => {
            println!("{:#?}", load_config(&cli)?);
            return Ok(());
        }
        _ => {}
    }
    let config = load_config(&cli)?;
    let rt = runtime()?;
    match cli.command {
        Command::Serve => rt.block_on(async {
            let app = crate::app::App::build(config).await?;
            app.run(crate::app::shutdown_signal()).await?;
            Ok(())
        }),
        Command::Doctor => rt.block_on(super::doctor::doctor(&config)),
        Command::Bench(cmd @ super::BenchCmd::Usage { .. }) => {
            rt.block_on(super::bench_usage::run(config, cmd))
        }
        Command::Bench(cmd) => rt.block_on(super::bench::run(config, cmd)),
        command => {
            let ops = open_ops(config)?;
            rt.block_on(operate(&ops, command, cli.json))
        }
    }
}

fn open_ops(config: Config) -> Result<Ops, Failure> {
    let store = Store::open(&config.db_path()).map_err(|e| Failure {
        code: 1,
        message: format!("opening {}: {e}", config.db_path().display()),
    })?;
    let blueprints =
        Blueprints::load_dir(&config.blueprint_dir()).map_err(|e| Failure::usage(e.to_string()))?;
    Ok(Ops::new(
        store,
        Arc::new(config),
        Arc::new(blueprints),
        Arc::default(),
    ))
}

fn plan_edit(args: PlanArgs, rename: Option<String>) -> PlanEdit {
    PlanEdit {
        name: rename,
        cpus: args.cpus,
        memory: args.memory.map(SizeInput::Text),
        memory_reservation: args.memory_reservation.map(SizeInput::Text),
        storage: args.storage.map(SizeInput::Text),
        max_instances: args.max_instances,
    }
}

async fn operate(ops: &Ops, command: Command, as_json: bool) -> Result<(), Failure> {
    let actor = Actor::cli();
    match command {
        Command::Token(TokenCmd::Create { name }) => {
            let token = ops.create_token(&actor, &name).await?;
            println!("{token}");
            eprintln!("Store this token now: it is not shown again.");
        }
        Command::Token(TokenCmd::List) => {
            let tokens = ops.list_tokens().await?;
            if as_json {
                output::json(&tokens);
            } else {
                output::table(
                    &["name", "created", "last used"],
                    tokens
                        .into_iter()
                        .map(|t| {
                            vec![
                                t.name,
                                t.created_at,
                                t.last_used_at.unwrap_or_else(|| "never".into()),
                            ]
                        })
                        .collect(),
                );
            }
        }
        Command::Token(TokenCmd::Revoke { name }) => ops.revoke_token(&actor, &name).await?,
        Command::Plan(PlanCmd::Create { name, args }) => {
            let cpus = args
                .cpus
                .ok_or_else(|| Failure::usage("--cpus is required"))?;
            let memory = args
                .memory
                .clone()
                .ok_or_else(|| Failure::usage("--memory is required"))?;
            let input = PlanInput {
                name,
                cpus,
                memory: SizeInput::Text(memory),
                memory_reservation: args.memory_reservation.map(SizeInput::Text),
                storage: args.storage.map(SizeInput::Text),
                max_instances: args.max_instances,
            };
            output::json(&ops.create_plan(&actor, input).await?);
        }
        Command::Plan(PlanCmd::List) => {
            let plans = ops.list_plans().await?;
            if as_json {
                output::json(&plans);
            } else {
                output::table(
                    &["name", "cpus", "memory", "storage", "max inst.", "in use"],
                    plans
                        .into_iter()
                        .map(|p| {
                            vec![
                                p.name,
                                p.cpus.to_string(),
                                output::size(p.memory),
                                p.storage.map(output::size).unwrap_or_else(|| "-".into()),
                                p.max_instances
                                    .map(|m| m.to_string())
                                    .unwrap_or_else(|| "-".into()),
                                p.instances.to_string(),
                            ]
                        })
                        .collect(),
                );
            }
        }
        Command::Plan(PlanCmd::Edit { name, rename, args }) => output::json(
            &ops.edit_plan(&actor, &name, plan_edit(args, rename))
                .await?,
        ),
        Command::Plan(PlanCmd::Delete { name }) => ops.delete_plan(&actor, &name).await?,
        Command::Client(ClientCmd::Create {
            name,
            email,
            plan,
            blueprint,
            domain,
            notes,
            env,
        }) => {
            let view = ops
                .create_client(
                    &actor,
                    NewClientInput {
                        name,
                        email,
                        plan,
                        notes,
                        blueprint,
                        domain,
                        env: (!env.is_empty()).then(|| env.into_iter().collect()),
                    },
                )
                .await?;
            output::json(&view);
        }
        Command::Client(ClientCmd::List) => {
            let clients = ops.list_clients().await?;
            if as_json {
                output::json(&clients);
            } else {
                output::table(
                    &["slug", "name", "plan", "instances", "status", "created"],
                    clients
                        .into_iter()
                        .map(|c| {
                            vec![
                                c.slug,
                                c.name,
                                c.plan,
                                c.instance_count.to_string(),
                                c.status,
                                c.created_at,
                            ]
                        })
                        .collect(),
                );
            }
        }
        Command::Client(ClientCmd::Show { slug }) => output::json(&ops.get_client(&slug).await?),
        Command::Client(ClientCmd::Edit {
            slug,
            name,
            email,
            plan,
            notes,
        }) => output::json(
            &ops.edit_client(
                &actor,
                &slug,
                ClientEdit {
                    name,
                    email,
                    plan,
                    notes,
                },
            )
            .await?,
        ),
        Command::Client(ClientCmd::Suspend { slug }) => output::json(
            &ops.set_client_status(&actor, &slug, ClientStatus::Suspended)
                .await?,
        ),
        Command::Client(ClientCmd::Resume { slug }) => output::json(
            &ops.set_client_status(&actor, &slug, ClientStatus::Active)
                .await?,
        ),
        Command::Client(ClientCmd::Delete { slug, confirm }) => {
            let confirm = match confirm {
                Some(c) => c,
                None => ask(&format!("This deletes client {slug} with all containers, data and backups. Type the slug to confirm: "))?,
            };
            output::json(&ops.delete_client(&actor, &slug, &confirm).await?);
        }
        Command::Instance(InstanceCmd::Add {
            slug,
            name,
            blueprint,
            domain,
            env,
        }) => output::json(
            &ops.add_instance(
                &actor,
                &slug,
                NewInstanceInput {
                    name: Some(name),
                    blueprint,
                    domain,
                    env: (!env.is_empty()).then(|| env.into_iter().collect()),
                },
            )
            .await?,
        ),
        Command::Instance(InstanceCmd::List { slug }) => {
            let list = ops.list_instances(slug.as_deref()).await?;
            if as_json {
                output::json(&list);
            } else {
                output::table(
                    &[
                        "id",
                        "client",
                        "name",
                        "blueprint",
                        "port",
                        "domains",
                        "phase",
                        "message",
                    ],
                    list.into_iter().map(instance_cells).collect(),
                );
            }
        }
        Command::Instance(InstanceCmd::Edit {
            id,
            env,
            clear_env,
            domains,
        }) => {
            let edit = InstanceEdit {
                env: (clear_env || !env.is_empty()).then(|| env.into_iter().collect()),
                domains: (!domains.is_empty()).then_some(domains),
            };
            output::json(&ops.edit_instance(&actor, id, edit).await?);
        }
        Command::Instance(InstanceCmd::Show { id }) => output::json(&ops.get_instance(id).await?),
        Command::Instance(InstanceCmd::Start { id }) => output::json(
            &ops.instance_action(&actor, id, InstanceAction::Start)
                .await?,
        ),
        Command::Instance(InstanceCmd::Stop { id }) => output::json(
            &ops.instance_action(&actor, id, InstanceAction::Stop)
                .await?,
        ),
        Command::Instance(InstanceCmd::Restart { id }) => output::json(
            &ops.instance_action(&actor, id, InstanceAction::Restart)
                .await?,
        ),
        Command::Instance(InstanceCmd::Remove { id, confirm }) => {
            let confirm = match confirm {
                Some(c) => c,
                None => ask("This removes the instance with its container and data. Type <slug>/<name> to confirm: ")?,
            };
            output::json(&ops.remove_instance(&actor, id, &confirm).await?);
        }
        Command::Backup(cmd) => super::backup::run(ops, cmd, as_json).await?,
        Command::Usage(cmd) => super::usage::run(ops, cmd, as_json).await?,
        Command::User(cmd) => super::users::run(ops, &actor, cmd, as_json).await?,
        Command::Serve | Command::Doctor | Command::Config(_) | Command::Bench(_) => {
            unreachable!("handled before opening the store")
        }
    }
    Ok(())
}

fn instance_cells(i: InstanceRow) -> Vec<String> {
    vec![
        i.id.to_string(),
        i.client_slug,
        i.name,
        i.blueprint,
        i.host_port.to_string(),
        i.domains.join(","),
        i.phase,
        i.message,
    ]
}

fn ask(prompt: &str) -> Result<String, Failure> {
    eprint!("{prompt}");
    let _ = std::io::stderr().flush();
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| Failure::usage(format!("reading confirmation: {e}")))?;
    Ok(line.trim().to_owned())
}
